// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

// Every rule the hub enforces has one error; the TypeScript side turns each into a readable message
// (contracts/errors.ts), so add a message there when you add an error here.

// access
error NotOwner(address caller);
error NotLeader(address caller, address leader);
error ZeroAddress();
error ZeroValue();
error PaymentFailed(address to, uint256 amount);
error InvalidConfig(string field);

// oracle set
error NotOracle(address account);
error OracleExists(address oracle);
error TooManyOracles(uint256 max);
error NoLiveOracle();

// node registry
error AlreadyRegistered(address node);
error NotRegistered(address node);
error InvalidRoles(uint8 roles);
error NoModels();
error TooManyModels(uint256 count, uint256 max);
error InvalidModel();
error StakeTooLow(uint256 stake, uint256 minStake);
error UnstakePending(address node, uint256 readyAt);
error UnstakeNotRequested(address node);
error CooldownNotOver(address node, uint256 readyAt);
error NothingToWithdraw(address account);

// sessions
error InvalidRedundancy(uint8 redundancy, uint8 minMiners, uint8 maxMiners);
error InvalidValidationMode(uint8 mode);
error InvalidSlaClass(uint8 slaClass);
error InvalidReservePeriod();
error InvalidMaxTasks();
error InvalidPrice();
error UnknownSession(uint256 sessionId);
error NotSessionOwner(uint256 sessionId, address caller);
error SessionIsClosed(uint256 sessionId);
error SessionHasOpenTasks(uint256 sessionId, uint256 reserved);
error SessionExpired(uint256 sessionId, uint256 endedAt);
error SessionTaskLimit(uint256 sessionId, uint256 maxTasks);
error InsufficientDeposit(uint256 sessionId, uint256 needed, uint256 available);

// task queue
error InvalidMaxTokens();
error InvalidPromptDigest();
error EmptySubmitBatch();
error SubmitBatchLengthMismatch(uint256 prompts, uint256 params);
error SubmitBatchTooLarge(uint256 count, uint256 max);
error UnknownTask(uint256 taskId);
error TaskNotQueued(uint256 taskId, uint8 status);
error TaskNotAssigned(uint256 taskId, uint8 status);
error TaskAlreadySettled(uint256 taskId);
error TaskNotOpen(uint256 taskId, uint8 status);
error WrongMinerCount(uint256 taskId, uint256 expected, uint256 got);
error MinerNotEligible(uint256 taskId, address miner);
error DuplicateMiner(uint256 taskId, address miner);
error AssignmentMismatch(uint256 taskId);
error InvalidMinerIndex(uint256 taskId, uint256 index);
error DeadlineNotPassed(uint256 taskId, uint256 deadline);

// settlement and fraud proofs
error MalformedBatch(uint256 taskId);
error InvalidVerdict(uint256 taskId, address miner, uint8 verdict);
error InvalidPrecommitSignature(uint256 taskId, address miner);
error InvalidRevealSignature(uint256 taskId, address miner);
error TokensExceedMax(uint256 taskId, address miner, uint256 tokens, uint256 maxTokens);
error NotContradictory(uint256 taskId, address miner);
error AlreadySlashed(uint256 taskId, address miner);
error NothingToSlash(address miner);
error TooManySignatures(uint256 count, uint256 max);
error OracleSignersNotSorted(uint256 taskId);
error QuorumNotReached(uint256 taskId, uint256 signatures, uint256 quorum);
