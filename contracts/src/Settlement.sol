// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

import "./TaskQueue.sol";

/// PoUW settlement: the leader settles many tasks per transaction. Every paid or failed verdict carries
/// the miner's EIP-712 precommit signature over (taskId, outputDigest, salt), checked here, so the leader
/// can neither pay a miner who did not commit nor pay for an output the miner did not commit to.
abstract contract Settlement is TaskQueue {
    uint8 public constant VERDICT_MISSED = 0; // no precommit or reveal: failed, unpaid, no signature needed
    uint8 public constant VERDICT_HONEST = 1; // paid tokens × price
    uint8 public constant VERDICT_FAULTY = 2; // committed but failed validation: failed, unpaid
    uint8 public constant SLASH_EQUIVOCATION = 1; // a signed reveal contradicts the signed precommit
    uint8 public constant SLASH_REPLAY = 2; // a quorum of oracles signed a failed replay verdict

    bytes32 public constant PRECOMMIT_TYPEHASH = keccak256("Precommit(uint256 taskId,bytes32 outputDigest,bytes32 salt)");
    bytes32 public constant REVEAL_TYPEHASH = keccak256("Reveal(uint256 taskId,bytes32 outputDigest,bytes32 salt)");
    bytes32 public constant REPLAY_VERDICT_TYPEHASH =
        keccak256("ReplayVerdict(uint256 taskId,address miner,bytes32 outputDigest,bool passed)");
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    uint256 internal constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    uint256 private immutable _chainId;
    bytes32 private immutable _domainSeparator;

    /// A miner's line in a settlement (documents the 160-byte layout settleBatch reads). `meta` packs: miner address (bits 0–159), tokens (160–183),
    /// verdict (184–191), on-time flag (bit 192). (r, vs) is the EIP-2098 compact precommit signature.
    struct MinerReport {
        uint256 meta;
        bytes32 outputDigest;
        bytes32 salt;
        bytes32 r;
        bytes32 vs;
    }

    /// A signed (outputDigest, salt) statement: a precommit or a reveal.
    struct SignedOutput {
        bytes32 outputDigest;
        bytes32 salt;
        bytes32 r;
        bytes32 vs;
    }

    struct CompactSig {
        bytes32 r;
        bytes32 vs;
    }

    mapping(bytes32 => bool) public slashedFor; // keccak256(taskId, miner): one slash per offence

    /// One event per settlement transaction: per task, `taskId << 128 | paid` (paid fits the uint128
    /// reservation). Verdicts, outputs and signatures are in the transaction's calldata (packBatch layout).
    event TasksSettled(uint256[] settled);

    constructor() {
        _chainId = block.chainid;
        _domainSeparator = _buildDomainSeparator();
    }

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _chainId ? _domainSeparator : _buildDomainSeparator();
    }

    uint256 internal constant REPORT_BYTES = 160; // meta, outputDigest, salt, r, vs

    /// Settle many tasks in one call. `packed` is, per task: taskId (32 bytes), then one 160-byte
    /// MinerReport (meta, outputDigest, salt, r, vs) per assigned miner, in assignment order; the
    /// session's redundancy says how many. Packed rather than ABI-nested to keep calldata and decoding
    /// cheap (gas per settled task is a tracked figure; see bench/chain.bench.ts).
    function settleBatch(bytes calldata packed) external onlyLeader {
        Tally memory tally;
        tally.domain = domainSeparator();
        // abi.encode(address[]) of the task's miners is rebuilt here per task: [0x20][n][miner…]
        uint256 buf;
        assembly ("memory-safe") {
            buf := mload(0x40)
            mstore(0x40, add(buf, mul(add(MAX_MINERS, 2), 0x20)))
            mstore(buf, 0x20)
        }
        uint256 p;
        uint256 end;
        assembly {
            p := packed.offset
            end := add(p, packed.length)
        }
        // the event's data, written in place as tasks settle: [0x20][count][taskId << 128 | paid …]
        uint256 log;
        assembly ("memory-safe") {
            log := mload(0x40)
            mstore(0x40, add(log, add(0x40, mul(div(packed.length, add(32, REPORT_BYTES)), 0x20))))
            mstore(log, 0x20)
        }
        uint256 count;
        while (p < end) {
            p = _settle(tally, buf, p, end);
            assembly ("memory-safe") {
                mstore(add(log, add(0x40, mul(count, 0x20))), or(shl(128, mload(tally)), mload(add(tally, 0x80))))
            }
            unchecked {
                count++;
            }
        }
        _flushSession(tally);
        _flushSettledBits(tally);
        bytes32 topic = TasksSettled.selector;
        assembly ("memory-safe") {
            mstore(add(log, 0x20), count)
            log1(log, add(0x40, mul(count, 0x20)), topic)
        }
    }

    /// Running totals of one task's settlement (kept in memory to stay within the EVM stack).
    struct Tally {
        uint256 taskId;
        uint256 maxTokens;
        uint256 price;
        bytes32 domain;
        uint256 paid;
        // per session, written back when the next task is from another session (or at the end)
        uint256 sessionId;
        uint256 redundancy;
        uint256 released; // reservations of the settled tasks
        uint256 refunded; // the unpaid part of them, back to `available`
        // the settled-bitmap word being filled (tasks settle mostly in id order)
        uint256 bitsKey;
        uint256 bits;
    }

    function _flushSession(Tally memory tally) internal {
        if (tally.sessionId == 0) return;
        Session storage s = _sessions[tally.sessionId];
        s.reserved -= uint128(tally.released);
        s.available += uint128(tally.refunded);
        tally.released = 0;
        tally.refunded = 0;
    }

    function _flushSettledBits(Tally memory tally) internal {
        if (tally.bits != 0) _settledBits[tally.bitsKey] |= tally.bits;
        tally.bits = 0;
    }

    function _settle(Tally memory tally, uint256 buf, uint256 p, uint256 end) internal returns (uint256 next) {
        uint256 taskId;
        assembly {
            taskId := calldataload(p)
        }
        Task storage t = _tasks[taskId];
        Task memory task = t;
        if (task.status != STATUS_ASSIGNED) {
            if (_isSettled(taskId) || (taskId >> 8 == tally.bitsKey && (tally.bits >> (taskId & 0xff)) & 1 == 1)) {
                revert TaskAlreadySettled(taskId);
            }
            revert TaskNotAssigned(taskId, task.status);
        }
        if (task.sessionId != tally.sessionId) {
            _flushSession(tally);
            Session storage s = _sessions[task.sessionId];
            tally.sessionId = task.sessionId;
            tally.redundancy = s.redundancy;
            tally.price = s.pricePerToken;
        }
        uint256 n = tally.redundancy;
        next = p + 32 + n * REPORT_BYTES;
        if (next > end) revert MalformedBatch(taskId);
        tally.taskId = taskId;
        tally.maxTokens = task.maxTokens;
        tally.paid = 0;
        unchecked {
            for (uint256 j = 0; j < n; j++) {
                address miner = _applyReport(tally, p + 32 + j * REPORT_BYTES);
                assembly ("memory-safe") {
                    mstore(add(buf, mul(add(j, 2), 0x20)), and(miner, 0xffffffffffffffffffffffffffffffffffffffff))
                }
            }
        }
        bytes32 assignment;
        assembly ("memory-safe") {
            mstore(add(buf, 0x20), n)
            assignment := keccak256(buf, mul(add(n, 2), 0x20))
        }
        if (bytes20(assignment) != task.assignment) revert AssignmentMismatch(taskId);
        uint256 cost = tally.maxTokens * tally.price * n;
        tally.released += cost;
        tally.refunded += cost - tally.paid;
        delete _tasks[taskId]; // refunds most of the slot's cost; the bitmap keeps it settled
        if (taskId >> 8 != tally.bitsKey) {
            _flushSettledBits(tally);
            tally.bitsKey = taskId >> 8;
        }
        tally.bits |= 1 << (taskId & 0xff);
    }

    // bit offsets of NodeStats in its storage slot (Solidity packs struct fields from the low bits)
    uint256 private constant TASKS_DONE_SHIFT = 96;
    uint256 private constant TASKS_FAILED_SHIFT = 128;
    uint256 private constant ON_TIME_SHIFT = 160;
    uint256 private constant LEVEL_SHIFT = 224;
    uint256 private constant EARNINGS_MAX = (1 << 96) - 1;

    /// Check one miner's report and update its counters and the task's tally; returns the miner.
    /// The miner's NodeStats slot is read and written once, as a whole word, to keep settlement cheap.
    function _applyReport(Tally memory tally, uint256 rep) internal returns (address miner) {
        uint256 meta;
        assembly {
            meta := calldataload(rep)
        }
        miner = address(uint160(meta));
        uint8 verdict = uint8(meta >> 184);
        NodeStats storage ref = _stats[miner];
        uint256 st;
        assembly ("memory-safe") {
            st := sload(ref.slot)
        }
        if (verdict == VERDICT_MISSED) {
            st += 1 << TASKS_FAILED_SHIFT;
        } else {
            if (verdict > VERDICT_FAULTY) revert InvalidVerdict(tally.taskId, miner, verdict);
            if (_recoverPrecommit(tally.domain, tally.taskId, rep) != miner || miner == address(0)) {
                revert InvalidPrecommitSignature(tally.taskId, miner);
            }
            if (verdict == VERDICT_HONEST) {
                uint256 tokens = uint24(meta >> 160);
                if (tokens > tally.maxTokens) revert TokensExceedMax(tally.taskId, miner, tokens, tally.maxTokens);
                uint256 pay = tokens * tally.price;
                tally.paid += pay;
                if ((st & EARNINGS_MAX) + pay > EARNINGS_MAX) revert PaymentFailed(miner, pay);
                st += pay + (1 << TASKS_DONE_SHIFT) + (((meta >> 192) & 1) << ON_TIME_SHIFT);
            } else {
                st += 1 << TASKS_FAILED_SHIFT;
            }
        }
        uint8 level = _levelFor(uint32(st >> TASKS_DONE_SHIFT), uint32(st >> TASKS_FAILED_SHIFT));
        if (level != uint8(st >> LEVEL_SHIFT)) {
            st = (st & ~(uint256(0xff) << LEVEL_SHIFT)) | (uint256(level) << LEVEL_SHIFT);
            emit LevelChanged(miner, level);
        }
        assembly ("memory-safe") {
            sstore(ref.slot, st)
        }
    }

    /// Signer of the precommit (taskId, rep.outputDigest, rep.salt) under (rep.r, rep.vs); address(0) if invalid.
    /// Hashes in scratch memory (no allocation): this runs three times per settled task.
    function _recoverPrecommit(bytes32 domain, uint256 taskId, uint256 rep) internal view returns (address signer) {
        bytes32 typehash = PRECOMMIT_TYPEHASH;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, typehash)
            mstore(add(p, 0x20), taskId)
            calldatacopy(add(p, 0x40), add(rep, 0x20), 0x40) // outputDigest, salt
            let structHash := keccak256(p, 0x80)
            mstore(p, 0x1901000000000000000000000000000000000000000000000000000000000000)
            mstore(add(p, 0x02), domain)
            mstore(add(p, 0x22), structHash)
            let digest := keccak256(p, 0x42)
            let vs := calldataload(add(rep, 0x80))
            let s := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
            if iszero(gt(s, HALF_N)) {
                mstore(p, digest)
                mstore(add(p, 0x20), add(shr(255, vs), 27))
                mstore(add(p, 0x40), calldataload(add(rep, 0x60)))
                mstore(add(p, 0x60), s)
                mstore(0x00, 0)
                if staticcall(gas(), 0x01, p, 0x80, 0x00, 0x20) {
                    signer := mload(0x00)
                }
            }
        }
    }

    /// Slash a miner whose signed reveal contradicts its signed precommit for the same task.
    function slashEquivocation(uint256 taskId, address miner, SignedOutput calldata precommit, SignedOutput calldata reveal)
        external
        onlyLeader
    {
        if (taskId == 0 || taskId > taskCount) revert UnknownTask(taskId);
        bytes32 domain = domainSeparator();
        if (!_signedBy(_hashTyped(domain, _outputHash(PRECOMMIT_TYPEHASH, taskId, precommit)), precommit.r, precommit.vs, miner)) {
            revert InvalidPrecommitSignature(taskId, miner);
        }
        if (!_signedBy(_hashTyped(domain, _outputHash(REVEAL_TYPEHASH, taskId, reveal)), reveal.r, reveal.vs, miner)) {
            revert InvalidRevealSignature(taskId, miner);
        }
        if (precommit.outputDigest == reveal.outputDigest && precommit.salt == reveal.salt) revert NotContradictory(taskId, miner);
        _slashOnce(taskId, miner, SLASH_EQUIVOCATION);
    }

    /// Slash a miner whose committed output failed the replay check, attested by a quorum of oracles.
    /// Oracle signatures are ordered by signer address (strictly increasing) so each oracle counts once.
    function slashReplayFailure(uint256 taskId, address miner, SignedOutput calldata precommit, CompactSig[] calldata oracleSigs)
        external
        onlyLeader
    {
        if (taskId == 0 || taskId > taskCount) revert UnknownTask(taskId);
        if (oracleSigs.length > MAX_ORACLES) revert TooManySignatures(oracleSigs.length, MAX_ORACLES);
        bytes32 domain = domainSeparator();
        if (!_signedBy(_hashTyped(domain, _outputHash(PRECOMMIT_TYPEHASH, taskId, precommit)), precommit.r, precommit.vs, miner)) {
            revert InvalidPrecommitSignature(taskId, miner);
        }
        bytes32 verdict = _hashTyped(
            domain, keccak256(abi.encode(REPLAY_VERDICT_TYPEHASH, taskId, miner, precommit.outputDigest, false))
        );
        address last;
        for (uint256 i = 0; i < oracleSigs.length; i++) {
            address signer = _recover(verdict, oracleSigs[i].r, oracleSigs[i].vs);
            if (!isOracle(signer)) revert NotOracle(signer);
            if (signer <= last) revert OracleSignersNotSorted(taskId);
            last = signer;
        }
        if (oracleSigs.length < replayQuorum) revert QuorumNotReached(taskId, oracleSigs.length, replayQuorum);
        _slashOnce(taskId, miner, SLASH_REPLAY);
    }

    function _slashOnce(uint256 taskId, address miner, uint8 reason) internal {
        bytes32 key = keccak256(abi.encode(taskId, miner));
        if (slashedFor[key]) revert AlreadySlashed(taskId, miner);
        slashedFor[key] = true;
        _slash(miner, taskId, reason);
    }

    function _outputHash(bytes32 typehash, uint256 taskId, SignedOutput calldata o) internal pure returns (bytes32) {
        return keccak256(abi.encode(typehash, taskId, o.outputDigest, o.salt));
    }

    function _hashTyped(bytes32 domain, bytes32 structHash) internal pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domain)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// EIP-2098 compact signature; high-s and malformed signatures recover to address(0).
    function _recover(bytes32 digest, bytes32 r, bytes32 vs) internal pure returns (address) {
        uint256 s = uint256(vs) & HALF_N_MASK;
        if (s > HALF_N) return address(0);
        uint8 v = uint8((uint256(vs) >> 255) + 27);
        return ecrecover(digest, v, r, bytes32(s));
    }

    function _signedBy(bytes32 digest, bytes32 r, bytes32 vs, address who) internal pure returns (bool) {
        address signer = _recover(digest, r, vs);
        return signer != address(0) && signer == who;
    }

    uint256 internal constant HALF_N_MASK = 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("CortensorHub"), keccak256("1"), block.chainid, address(this))
        );
    }
}
