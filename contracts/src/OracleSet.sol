// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

import "./HubBase.sol";

/// Oracle set with heartbeats and leader rotation (Cortensor's multi-oracle phase 2).
/// The leader of a window is oracles[(now / leaderWindowS) % n]; when its heartbeat is older than
/// heartbeatTimeoutS the next live oracle in the ring takes over for the rest of the window.
abstract contract OracleSet is HubBase {
    uint256 public constant MAX_ORACLES = 16;

    address[] internal _oracles;
    mapping(address => uint256) internal _oracleSlot; // index + 1, 0 = not an oracle
    mapping(address => uint256) public lastHeartbeat;

    event OracleAdded(address indexed oracle);
    event OracleRemoved(address indexed oracle);
    event OracleHeartbeat(address indexed oracle, uint256 at);

    function addOracle(address oracle) external onlyOwner {
        if (oracle == address(0)) revert ZeroAddress();
        if (_oracleSlot[oracle] != 0) revert OracleExists(oracle);
        if (_oracles.length >= MAX_ORACLES) revert TooManyOracles(MAX_ORACLES);
        _oracles.push(oracle);
        _oracleSlot[oracle] = _oracles.length;
        lastHeartbeat[oracle] = block.timestamp;
        emit OracleAdded(oracle);
    }

    function removeOracle(address oracle) external onlyOwner {
        uint256 slot = _oracleSlot[oracle];
        if (slot == 0) revert NotOracle(oracle);
        address last = _oracles[_oracles.length - 1];
        _oracles[slot - 1] = last;
        _oracleSlot[last] = slot;
        _oracles.pop();
        delete _oracleSlot[oracle];
        delete lastHeartbeat[oracle];
        emit OracleRemoved(oracle);
    }

    function heartbeat() external {
        if (_oracleSlot[msg.sender] == 0) revert NotOracle(msg.sender);
        lastHeartbeat[msg.sender] = block.timestamp;
        emit OracleHeartbeat(msg.sender, block.timestamp);
    }

    function oracles() external view returns (address[] memory) {
        return _oracles;
    }

    function isOracle(address account) public view returns (bool) {
        return _oracleSlot[account] != 0;
    }

    /// The oracle allowed to assign and settle now. Loops over at most MAX_ORACLES entries.
    function currentLeader() public view returns (address) {
        uint256 n = _oracles.length;
        if (n == 0) revert NoLiveOracle();
        uint256 start = (block.timestamp / leaderWindowS) % n;
        for (uint256 i = 0; i < n; i++) {
            address o = _oracles[(start + i) % n];
            if (block.timestamp - lastHeartbeat[o] <= heartbeatTimeoutS) return o;
        }
        revert NoLiveOracle();
    }

    modifier onlyLeader() {
        address leader = currentLeader();
        if (msg.sender != leader) revert NotLeader(msg.sender, leader);
        _;
    }
}
