// SPDX-License-Identifier: Apache-2.0 OR MIT
pragma solidity ^0.8.28;

import "./Settlement.sol";

/// The whole economic and audit layer at one address: node registry, sessions, task queue,
/// settlement and the oracle set. See contracts/README.md for what lives on chain and what does not.
contract CortensorHub is Settlement {
    constructor(Config memory config) HubBase(config) {}
}
