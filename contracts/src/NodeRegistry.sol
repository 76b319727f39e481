// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

import "./HubBase.sol";

/// Node Pool + Cognitive level: stake, roles, served models (sha256 of the GGUF file), hardware class.
/// Level and reputation counters are written only by the settlement module.
abstract contract NodeRegistry is HubBase {
    uint8 public constant ROLE_MINER = 1;
    uint8 public constant ROLE_ORACLE = 2;
    uint8 public constant ROLE_ROUTER = 4;
    uint8 public constant ROLE_BOOTSTRAP = 8;
    uint8 internal constant ROLES_ALL = 15;
    uint256 public constant MAX_MODELS = 8;
    uint8 public constant MAX_LEVEL = 5;

    struct Node {
        uint128 stake;
        uint40 unstakeReadyAt; // 0 = active, otherwise the time withdrawStake opens
        uint8 roles;
        uint8 hardwareClass;
        bool registered;
    }

    /// One storage slot, so settlement touches each miner once per batch.
    struct NodeStats {
        uint96 earnings; // paid by settlement, withdrawn by the node
        uint32 tasksDone;
        uint32 tasksFailed;
        uint32 onTime; // precommit and reveal inside their windows
        uint32 missed; // replaced after missing a deadline
        uint8 level;
    }

    mapping(address => Node) internal _nodes;
    mapping(address => NodeStats) internal _stats;
    mapping(address => bytes32[]) internal _models;
    mapping(address => mapping(bytes32 => bool)) internal _serves;

    event NodeRegistered(address indexed node, uint8 roles, uint8 hardwareClass, uint256 stake, bytes32[] models);
    event StakeAdded(address indexed node, uint256 amount, uint256 stake);
    event UnstakeRequested(address indexed node, uint256 readyAt);
    event NodeUnregistered(address indexed node, uint256 stakeReturned);
    event EarningsWithdrawn(address indexed node, uint256 amount);
    event NodeSlashed(address indexed node, uint256 indexed taskId, uint256 amount, uint8 reason);
    event LevelChanged(address indexed node, uint8 level);

    function registerNode(uint8 roles, uint8 hardwareClass, bytes32[] calldata models) external payable {
        if (_nodes[msg.sender].registered) revert AlreadyRegistered(msg.sender);
        if (roles == 0 || roles & ~ROLES_ALL != 0) revert InvalidRoles(roles);
        if (roles & ROLE_MINER != 0 && models.length == 0) revert NoModels();
        if (models.length > MAX_MODELS) revert TooManyModels(models.length, MAX_MODELS);
        if (msg.value < minStake) revert StakeTooLow(msg.value, minStake);
        for (uint256 i = 0; i < models.length; i++) {
            if (models[i] == bytes32(0)) revert InvalidModel();
            if (!_serves[msg.sender][models[i]]) {
                _serves[msg.sender][models[i]] = true;
                _models[msg.sender].push(models[i]);
            }
        }
        _nodes[msg.sender] = Node({
            stake: uint128(msg.value),
            unstakeReadyAt: 0,
            roles: roles,
            hardwareClass: hardwareClass,
            registered: true
        });
        emit NodeRegistered(msg.sender, roles, hardwareClass, msg.value, models);
    }

    function addStake() external payable {
        Node storage n = _nodes[msg.sender];
        if (!n.registered) revert NotRegistered(msg.sender);
        if (n.unstakeReadyAt != 0) revert UnstakePending(msg.sender, n.unstakeReadyAt);
        if (msg.value == 0) revert ZeroValue();
        n.stake += uint128(msg.value);
        emit StakeAdded(msg.sender, msg.value, n.stake);
    }

    /// Leave the pool: the node stops being assignable now and may withdraw after the cooldown.
    function requestUnstake() external {
        Node storage n = _nodes[msg.sender];
        if (!n.registered) revert NotRegistered(msg.sender);
        if (n.unstakeReadyAt != 0) revert UnstakePending(msg.sender, n.unstakeReadyAt);
        uint40 readyAt = uint40(block.timestamp + unstakeCooldownS);
        n.unstakeReadyAt = readyAt;
        emit UnstakeRequested(msg.sender, readyAt);
    }

    function withdrawStake() external {
        Node storage n = _nodes[msg.sender];
        if (!n.registered) revert NotRegistered(msg.sender);
        if (n.unstakeReadyAt == 0) revert UnstakeNotRequested(msg.sender);
        if (block.timestamp < n.unstakeReadyAt) revert CooldownNotOver(msg.sender, n.unstakeReadyAt);
        uint256 amount = n.stake;
        bytes32[] storage models = _models[msg.sender];
        for (uint256 i = 0; i < models.length; i++) {
            delete _serves[msg.sender][models[i]];
        }
        delete _models[msg.sender];
        delete _nodes[msg.sender];
        emit NodeUnregistered(msg.sender, amount);
        if (amount > 0) _payOut(msg.sender, amount);
    }

    function withdrawEarnings() external {
        uint256 amount = _stats[msg.sender].earnings;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _stats[msg.sender].earnings = 0;
        emit EarningsWithdrawn(msg.sender, amount);
        _payOut(msg.sender, amount);
    }

    function getNode(address node) external view returns (Node memory info, NodeStats memory stats, bytes32[] memory models) {
        return (_nodes[node], _stats[node], _models[node]);
    }

    function servesModel(address node, bytes32 modelId) external view returns (bool) {
        return _serves[node][modelId];
    }

    /// A miner may be assigned when it is registered as a miner, not leaving, staked and serves the model.
    function _isEligible(address miner, bytes32 modelId) internal view returns (bool) {
        Node storage n = _nodes[miner];
        return n.registered && n.roles & ROLE_MINER != 0 && n.unstakeReadyAt == 0 && n.stake >= minStake
            && _serves[miner][modelId];
    }

    /// Level from the counters: every failure cancels LEVEL_FAILURE_WEIGHT successes, then the ladder below.
    /// Thresholds follow Cortensor's 0–5 cognitive levels; the numbers are a devnet placeholder until the
    /// simulations (simulations/) calibrate them.
    function _levelFor(uint32 done, uint32 failed) internal pure returns (uint8) {
        uint256 penalty = uint256(failed) * 5;
        if (penalty >= done) return 0;
        uint256 score = done - penalty;
        if (score >= 5000) return 5;
        if (score >= 1000) return 4;
        if (score >= 200) return 3;
        if (score >= 50) return 2;
        if (score >= 10) return 1;
        return 0;
    }

    function _slash(address miner, uint256 taskId, uint8 reason) internal {
        Node storage n = _nodes[miner];
        if (!n.registered || n.stake == 0) revert NothingToSlash(miner);
        uint128 amount = uint128((uint256(n.stake) * slashBps) / 10_000);
        n.stake -= amount;
        slashedTotal += amount;
        emit NodeSlashed(miner, taskId, amount, reason);
        if (_stats[miner].level != 0) {
            _stats[miner].level = 0;
            emit LevelChanged(miner, 0);
        }
    }
}
