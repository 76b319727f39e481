// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

import "./HubBase.sol";

/// Session + Session Payment: Cortensor's session parameters and a deposit that tasks reserve
/// against at submit and settlement pays from.
abstract contract Sessions is HubBase {
    uint8 public constant MAX_MINERS = 16;
    uint8 public constant VALIDATION_MODES = 3; // 0 structural, 1 embedding distance, 2 replay check
    uint8 public constant SLA_CLASSES = 4;

    struct SessionParams {
        bytes32 modelId;
        uint8 redundancy;
        uint8 minMiners;
        uint8 maxMiners;
        uint8 validationMode;
        uint8 slaClass;
        uint32 reservePeriodS;
        uint32 maxTasks;
        uint96 pricePerToken;
    }

    struct Session {
        address owner;
        uint96 pricePerToken;
        uint128 available; // deposit not reserved by open tasks
        uint128 reserved; // held for open tasks: maxTokens × price × redundancy each
        bytes32 modelId;
        uint32 taskCount;
        uint32 maxTasks;
        uint32 reservePeriodS;
        uint40 createdAt;
        uint8 redundancy;
        uint8 minMiners;
        uint8 maxMiners;
        uint8 validationMode;
        uint8 slaClass;
        bool closed;
    }

    uint256 public sessionCount;
    mapping(uint256 => Session) internal _sessions;

    event SessionCreated(
        uint256 indexed sessionId, address indexed owner, bytes32 indexed modelId, uint8 redundancy, uint96 pricePerToken, uint256 deposit
    );
    event SessionToppedUp(uint256 indexed sessionId, address indexed from, uint256 amount, uint256 available);
    event SessionClosed(uint256 indexed sessionId, uint256 refund);

    function createSession(SessionParams calldata p) external payable returns (uint256 sessionId) {
        if (p.modelId == bytes32(0)) revert InvalidModel();
        if (p.minMiners == 0 || p.minMiners > p.redundancy || p.redundancy > p.maxMiners || p.maxMiners > MAX_MINERS) {
            revert InvalidRedundancy(p.redundancy, p.minMiners, p.maxMiners);
        }
        if (p.validationMode >= VALIDATION_MODES) revert InvalidValidationMode(p.validationMode);
        if (p.slaClass >= SLA_CLASSES) revert InvalidSlaClass(p.slaClass);
        if (p.reservePeriodS == 0) revert InvalidReservePeriod();
        if (p.maxTasks == 0) revert InvalidMaxTasks();
        if (p.pricePerToken == 0) revert InvalidPrice();
        sessionId = ++sessionCount;
        _sessions[sessionId] = Session({
            owner: msg.sender,
            pricePerToken: p.pricePerToken,
            available: uint128(msg.value),
            reserved: 0,
            modelId: p.modelId,
            taskCount: 0,
            maxTasks: p.maxTasks,
            reservePeriodS: p.reservePeriodS,
            createdAt: uint40(block.timestamp),
            redundancy: p.redundancy,
            minMiners: p.minMiners,
            maxMiners: p.maxMiners,
            validationMode: p.validationMode,
            slaClass: p.slaClass,
            closed: false
        });
        emit SessionCreated(sessionId, msg.sender, p.modelId, p.redundancy, p.pricePerToken, msg.value);
    }

    /// Anyone may fund a session (a sponsor or the router that holds it).
    function topUp(uint256 sessionId) external payable {
        Session storage s = _openSession(sessionId);
        if (msg.value == 0) revert ZeroValue();
        s.available += uint128(msg.value);
        emit SessionToppedUp(sessionId, msg.sender, msg.value, s.available);
    }

    /// Close and refund what no open task holds; tasks still open must settle or expire first.
    function closeSession(uint256 sessionId) external {
        Session storage s = _openSession(sessionId);
        if (s.owner != msg.sender) revert NotSessionOwner(sessionId, msg.sender);
        if (s.reserved != 0) revert SessionHasOpenTasks(sessionId, s.reserved);
        uint256 refund = s.available;
        s.available = 0;
        s.closed = true;
        emit SessionClosed(sessionId, refund);
        if (refund > 0) _payOut(msg.sender, refund);
    }

    function getSession(uint256 sessionId) external view returns (Session memory) {
        if (_sessions[sessionId].owner == address(0)) revert UnknownSession(sessionId);
        return _sessions[sessionId];
    }

    function _openSession(uint256 sessionId) internal view returns (Session storage s) {
        s = _sessions[sessionId];
        if (s.owner == address(0)) revert UnknownSession(sessionId);
        if (s.closed) revert SessionIsClosed(sessionId);
    }
}
