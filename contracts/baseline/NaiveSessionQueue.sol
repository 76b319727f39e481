// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

/// Benchmark baseline only (bench/chain.bench.ts), never deployed by the node: the per-step flow of
/// Cortensor's Session Queue, one transaction per ack, precommit and commit per miner, then settle.
contract NaiveSessionQueue {
    struct Task {
        address owner;
        uint96 budget;
        uint8 state;
        address[] miners;
    }

    mapping(uint256 => Task) internal tasks;
    mapping(uint256 => mapping(address => bool)) public acked;
    mapping(uint256 => mapping(address => bytes32)) public precommits;
    mapping(uint256 => mapping(address => bytes32)) public outputs;
    mapping(address => uint256) public earnings;
    uint256 public taskCount;

    event Submitted(uint256 indexed taskId, bytes32 promptDigest);
    event Assigned(uint256 indexed taskId, address[] miners);
    event Acked(uint256 indexed taskId, address indexed miner);
    event Precommitted(uint256 indexed taskId, address indexed miner, bytes32 commitment);
    event Committed(uint256 indexed taskId, address indexed miner, bytes32 outputDigest);
    event Settled(uint256 indexed taskId, uint256 paid);

    function submit(bytes32 promptDigest) external payable returns (uint256 id) {
        id = ++taskCount;
        tasks[id].owner = msg.sender;
        tasks[id].budget = uint96(msg.value);
        tasks[id].state = 1;
        emit Submitted(id, promptDigest);
    }

    function assign(uint256 id, address[] calldata miners) external {
        require(tasks[id].state == 1, "state");
        tasks[id].miners = miners;
        tasks[id].state = 2;
        emit Assigned(id, miners);
    }

    function ack(uint256 id) external {
        require(_isMiner(id, msg.sender), "miner");
        acked[id][msg.sender] = true;
        emit Acked(id, msg.sender);
    }

    function precommit(uint256 id, bytes32 commitment) external {
        require(acked[id][msg.sender], "ack");
        precommits[id][msg.sender] = commitment;
        emit Precommitted(id, msg.sender, commitment);
    }

    function commit(uint256 id, bytes32 outputDigest, bytes32 salt) external {
        require(precommits[id][msg.sender] == keccak256(abi.encode(outputDigest, salt)), "reveal");
        outputs[id][msg.sender] = outputDigest;
        emit Committed(id, msg.sender, outputDigest);
    }

    function settle(uint256 id) external {
        Task storage t = tasks[id];
        require(t.state == 2, "state");
        uint256 n = t.miners.length;
        uint256 share = t.budget / n;
        uint256 paid;
        for (uint256 i = 0; i < n; i++) {
            if (outputs[id][t.miners[i]] != bytes32(0)) {
                earnings[t.miners[i]] += share;
                paid += share;
            }
        }
        t.state = 3;
        emit Settled(id, paid);
    }

    function _isMiner(uint256 id, address who) internal view returns (bool) {
        address[] storage m = tasks[id].miners;
        for (uint256 i = 0; i < m.length; i++) {
            if (m[i] == who) return true;
        }
        return false;
    }
}
