// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

import "./Errors.sol";

/// Deployment-time rules and the value hooks every module pays through.
/// Value is the chain's native currency. An ERC-20 deployment overrides `_payOut` with a
/// `transfer` and replaces the `msg.value` reads (registerNode, addStake, createSession, topUp)
/// with an explicit amount pulled by `transferFrom`; the ledgers below do not change.
abstract contract HubBase {
    struct Config {
        uint128 minStake;          // wei a miner must keep staked to be assignable
        uint32 unstakeCooldownS;   // requestUnstake → withdrawStake, the window in which fraud can still be proven
        uint32 leaderWindowS;      // length of one leader turn (round robin over the oracle set)
        uint32 heartbeatTimeoutS;  // a leader silent for longer is skipped by the next oracle
        uint32 queueTimeoutS;      // Queued for longer → anyone may expire the task
        uint32 precommitWindowS;   // Assigned for longer without settlement → the leader may reassign a miner
        uint32 settleTimeoutS;     // Assigned for longer → anyone may expire the task and free its deposit
        uint8 replayQuorum;        // distinct oracle signatures on a failed replay verdict needed to slash
        uint16 slashBps;           // share of stake taken per proven fraud, in basis points
    }

    address public immutable owner;
    uint128 public immutable minStake;
    uint32 public immutable unstakeCooldownS;
    uint32 public immutable leaderWindowS;
    uint32 public immutable heartbeatTimeoutS;
    uint32 public immutable queueTimeoutS;
    uint32 public immutable precommitWindowS;
    uint32 public immutable settleTimeoutS;
    uint8 public immutable replayQuorum;
    uint16 public immutable slashBps;

    /// Slashed stake stays locked in the contract (burned for the devnet); history is in NodeSlashed events.
    uint256 public slashedTotal;

    constructor(Config memory c) {
        if (c.leaderWindowS == 0) revert InvalidConfig("leaderWindowS");
        if (c.heartbeatTimeoutS == 0) revert InvalidConfig("heartbeatTimeoutS");
        if (c.replayQuorum == 0) revert InvalidConfig("replayQuorum");
        if (c.slashBps == 0 || c.slashBps > 10_000) revert InvalidConfig("slashBps");
        if (c.settleTimeoutS <= c.precommitWindowS) revert InvalidConfig("settleTimeoutS");
        owner = msg.sender;
        minStake = c.minStake;
        unstakeCooldownS = c.unstakeCooldownS;
        leaderWindowS = c.leaderWindowS;
        heartbeatTimeoutS = c.heartbeatTimeoutS;
        queueTimeoutS = c.queueTimeoutS;
        precommitWindowS = c.precommitWindowS;
        settleTimeoutS = c.settleTimeoutS;
        replayQuorum = c.replayQuorum;
        slashBps = c.slashBps;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// Send value out; callers update their ledgers first (checks, effects, then this interaction).
    function _payOut(address to, uint256 amount) internal virtual {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PaymentFailed(to, amount);
    }
}
