// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

import "./NodeRegistry.sol";
import "./OracleSet.sol";
import "./Sessions.sol";

/// Session Queue: the part of the task lifecycle that money and fraud proofs need.
/// Queued (deposit reserved) → Assigned (miner set committed) → Settled, or → Expired (deposit freed).
/// Ack, precommit and reveal travel on the mesh; settlement brings the signed precommits on chain.
abstract contract TaskQueue is NodeRegistry, Sessions, OracleSet {
    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_QUEUED = 1;
    uint8 public constant STATUS_ASSIGNED = 2;
    uint8 public constant STATUS_SETTLED = 3;
    uint8 public constant STATUS_EXPIRED = 4;

    /// One storage slot per task.
    struct Task {
        uint32 sessionId;
        uint24 maxTokens;
        uint8 status;
        uint32 stamp; // time of the last transition; deadlines count from it
        bytes20 assignment; // first 20 bytes of keccak256(abi.encode(address[] miners))
    }

    struct TaskParams {
        uint24 maxTokens;
        bytes32 paramsDigest; // sha256 multihash digest of the dag-json sampling parameters
    }

    struct Assignment {
        uint256 taskId;
        address[] miners;
    }

    uint256 public taskCount;
    mapping(uint256 => Task) internal _tasks;
    /// One bit per settled task (word = taskId >> 8). Settlement deletes the task's slot (a gas refund)
    /// and sets its bit here, so a settled task stays known and settled exactly once.
    mapping(uint256 => uint256) internal _settledBits;

    /// `seed` mixes block.prevrandao of the submit block with the task id: the leader cannot choose it,
    /// and anyone recomputes the miner selection from it.
    event TaskSubmitted(
        uint256 indexed taskId,
        uint256 indexed sessionId,
        bytes32 promptDigest,
        bytes32 paramsDigest,
        uint24 maxTokens,
        uint256 reserved,
        uint256 seed
    );
    event TaskAssigned(uint256 indexed taskId, address[] miners);
    event MinerReassigned(uint256 indexed taskId, address indexed previous, address indexed replacement, uint256 index);
    event TaskExpired(uint256 indexed taskId, uint256 released);
    /// The leader gave a task up before its deadline (the reason is the queue's, e.g. too few reveals);
    /// followed in the same transaction by its `TaskExpired`.
    event TaskAbandoned(uint256 indexed taskId, uint8 reason);

    /// Tasks in one `submitTasks` call at most. A task costs about 31k gas in a batch (its storage slot, its
    /// event), so 100 take about 3.2M gas: an eighth of a 30M-gas block, within any chain's per-transaction
    /// cap, and about 10 KB of calldata.
    uint256 public constant MAX_SUBMIT_BATCH = 100;

    function submitTask(uint256 sessionId, bytes32 promptDigest, TaskParams calldata params) external returns (uint256 taskId) {
        taskId = _submitTask(sessionId, promptDigest, params);
    }

    /// Many tasks of one session in one transaction: each is checked, reserved and announced (its own
    /// `TaskSubmitted`, id and seed) exactly as `submitTask` would, in order; one refused task reverts them all.
    /// Ids are consecutive from the returned first one.
    function submitTasks(uint256 sessionId, bytes32[] calldata promptDigests, TaskParams[] calldata params) external returns (uint256 firstTaskId) {
        uint256 n = promptDigests.length;
        if (n == 0) revert EmptySubmitBatch();
        if (n != params.length) revert SubmitBatchLengthMismatch(n, params.length);
        if (n > MAX_SUBMIT_BATCH) revert SubmitBatchTooLarge(n, MAX_SUBMIT_BATCH);
        firstTaskId = _submitTask(sessionId, promptDigests[0], params[0]);
        for (uint256 i = 1; i < n; i++) {
            _submitTask(sessionId, promptDigests[i], params[i]);
        }
    }

    function _submitTask(uint256 sessionId, bytes32 promptDigest, TaskParams calldata params) internal returns (uint256 taskId) {
        Session storage s = _openSession(sessionId);
        if (s.owner != msg.sender) revert NotSessionOwner(sessionId, msg.sender);
        uint256 endsAt = uint256(s.createdAt) + s.reservePeriodS;
        if (block.timestamp >= endsAt) revert SessionExpired(sessionId, endsAt);
        if (s.taskCount >= s.maxTasks) revert SessionTaskLimit(sessionId, s.maxTasks);
        if (params.maxTokens == 0) revert InvalidMaxTokens();
        if (promptDigest == bytes32(0)) revert InvalidPromptDigest();
        uint256 cost = _taskCost(s, params.maxTokens);
        if (s.available < cost) revert InsufficientDeposit(sessionId, cost, s.available);
        s.available -= uint128(cost);
        s.reserved += uint128(cost);
        s.taskCount += 1;
        taskId = ++taskCount;
        _tasks[taskId] = Task({
            sessionId: uint32(sessionId),
            maxTokens: params.maxTokens,
            status: STATUS_QUEUED,
            stamp: uint32(block.timestamp),
            assignment: bytes20(0)
        });
        emit TaskSubmitted(
            taskId, sessionId, promptDigest, params.paramsDigest, params.maxTokens, cost,
            uint256(keccak256(abi.encode(block.prevrandao, taskId)))
        );
    }

    /// The leader commits the miner set of many tasks in one transaction.
    function assignTasks(Assignment[] calldata assignments) external onlyLeader {
        for (uint256 i = 0; i < assignments.length; i++) {
            Assignment calldata a = assignments[i];
            Task storage t = _tasks[a.taskId];
            if (t.status != STATUS_QUEUED) revert TaskNotQueued(a.taskId, _statusOf(a.taskId));
            Session storage s = _sessions[t.sessionId];
            if (a.miners.length != s.redundancy) revert WrongMinerCount(a.taskId, s.redundancy, a.miners.length);
            bytes32 modelId = s.modelId;
            for (uint256 j = 0; j < a.miners.length; j++) {
                address m = a.miners[j];
                if (!_isEligible(m, modelId)) revert MinerNotEligible(a.taskId, m);
                for (uint256 k = 0; k < j; k++) {
                    if (a.miners[k] == m) revert DuplicateMiner(a.taskId, m);
                }
            }
            t.assignment = _assignmentHash(a.miners);
            t.status = STATUS_ASSIGNED;
            t.stamp = uint32(block.timestamp);
            emit TaskAssigned(a.taskId, a.miners);
        }
    }

    /// Replace a miner that missed its precommit window; the replaced miner's `missed` counter grows.
    function reassignMiner(uint256 taskId, address[] calldata current, uint256 index, address replacement) external onlyLeader {
        Task storage t = _tasks[taskId];
        if (t.status != STATUS_ASSIGNED) revert TaskNotAssigned(taskId, _statusOf(taskId));
        if (_assignmentHash(current) != t.assignment) revert AssignmentMismatch(taskId);
        if (index >= current.length) revert InvalidMinerIndex(taskId, index);
        uint256 deadline = uint256(t.stamp) + precommitWindowS;
        if (block.timestamp <= deadline) revert DeadlineNotPassed(taskId, deadline);
        if (!_isEligible(replacement, _sessions[t.sessionId].modelId)) revert MinerNotEligible(taskId, replacement);
        address[] memory next = current;
        for (uint256 k = 0; k < next.length; k++) {
            if (next[k] == replacement) revert DuplicateMiner(taskId, replacement);
        }
        address previous = next[index];
        next[index] = replacement;
        t.assignment = _assignmentHash(next);
        t.stamp = uint32(block.timestamp);
        _stats[previous].missed += 1;
        emit MinerReassigned(taskId, previous, replacement, index);
    }

    /// Anyone may expire a task whose window passed; its reservation returns to the session.
    function expireTask(uint256 taskId) external {
        Task storage t = _tasks[taskId];
        uint256 deadline;
        if (t.status == STATUS_QUEUED) {
            deadline = uint256(t.stamp) + queueTimeoutS;
        } else if (t.status == STATUS_ASSIGNED) {
            deadline = uint256(t.stamp) + settleTimeoutS;
        } else {
            revert TaskNotOpen(taskId, _statusOf(taskId));
        }
        if (block.timestamp <= deadline) revert DeadlineNotPassed(taskId, deadline);
        Session storage s = _sessions[t.sessionId];
        uint256 cost = _taskCost(s, t.maxTokens);
        s.reserved -= uint128(cost);
        s.available += uint128(cost);
        t.status = STATUS_EXPIRED;
        emit TaskExpired(taskId, cost);
    }

    /// The leader gives up tasks the network cannot finish (too few miners or reveals, declined, unverifiable)
    /// without waiting for their deadlines: each open task's reservation returns to its session at once and the
    /// submitter learns the reason from the log. Tasks no longer open (settled or expired meanwhile) are skipped,
    /// so one late entry does not revert the batch. The leader could as well never settle a task; giving it up
    /// only returns the session's money sooner.
    function abandonTasks(uint256[] calldata taskIds, uint8[] calldata reasons) external onlyLeader {
        if (taskIds.length != reasons.length) revert SubmitBatchLengthMismatch(taskIds.length, reasons.length);
        for (uint256 i = 0; i < taskIds.length; i++) {
            Task storage t = _tasks[taskIds[i]];
            if (t.status != STATUS_QUEUED && t.status != STATUS_ASSIGNED) continue;
            Session storage s = _sessions[t.sessionId];
            uint256 cost = _taskCost(s, t.maxTokens);
            s.reserved -= uint128(cost);
            s.available += uint128(cost);
            t.status = STATUS_EXPIRED;
            emit TaskAbandoned(taskIds[i], reasons[i]);
            emit TaskExpired(taskIds[i], cost);
        }
    }

    /// A settled task reads back as status Settled with its other fields cleared (its slot was deleted).
    function getTask(uint256 taskId) external view returns (Task memory t) {
        t = _tasks[taskId];
        if (t.status == STATUS_NONE) {
            if (!_isSettled(taskId)) revert UnknownTask(taskId);
            t.status = STATUS_SETTLED;
        }
    }

    function _isSettled(uint256 taskId) internal view returns (bool) {
        return (_settledBits[taskId >> 8] >> (taskId & 0xff)) & 1 == 1;
    }

    /// Status including settled tasks (whose slot is deleted); for checks and error reports.
    function _statusOf(uint256 taskId) internal view returns (uint8) {
        uint8 st = _tasks[taskId].status;
        return st == STATUS_NONE && _isSettled(taskId) ? STATUS_SETTLED : st;
    }

    function _taskCost(Session storage s, uint256 maxTokens) internal view returns (uint256) {
        return maxTokens * s.pricePerToken * s.redundancy;
    }

    function _assignmentHash(address[] memory miners) internal pure returns (bytes20) {
        return bytes20(keccak256(abi.encode(miners)));
    }
}
