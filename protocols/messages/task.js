// Generated from task.proto by protons, compiled by tsc (test/protocols/codegen.ts). Do not edit.
// @ts-nocheck
import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime';
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc';
export var TaskParams;
(function (TaskParams) {
    let _codec;
    TaskParams.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.modelId != null && obj.modelId !== '')) {
                    w.uint32(10);
                    w.string(obj.modelId);
                }
                if ((obj.maxTokens != null && obj.maxTokens !== 0)) {
                    w.uint32(16);
                    w.uint32(obj.maxTokens);
                }
                if ((obj.temperature != null && obj.temperature !== 0)) {
                    w.uint32(25);
                    w.double(obj.temperature);
                }
                if ((obj.topP != null && obj.topP !== 0)) {
                    w.uint32(33);
                    w.double(obj.topP);
                }
                if ((obj.topK != null && obj.topK !== 0)) {
                    w.uint32(40);
                    w.uint32(obj.topK);
                }
                if ((obj.seed != null && obj.seed !== 0n)) {
                    w.uint32(48);
                    w.uint64(obj.seed);
                }
                if (obj.stop != null && obj.stop.length > 0) {
                    for (const value of obj.stop) {
                        w.uint32(58);
                        w.string(value);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    modelId: '',
                    maxTokens: 0,
                    temperature: 0,
                    topP: 0,
                    topK: 0,
                    seed: 0n,
                    stop: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.modelId = reader.string();
                            break;
                        }
                        case 2: {
                            obj.maxTokens = reader.uint32();
                            break;
                        }
                        case 3: {
                            obj.temperature = reader.double();
                            break;
                        }
                        case 4: {
                            obj.topP = reader.double();
                            break;
                        }
                        case 5: {
                            obj.topK = reader.uint32();
                            break;
                        }
                        case 6: {
                            obj.seed = reader.uint64();
                            break;
                        }
                        case 7: {
                            if (opts.limits?.stop != null && obj.stop.length === opts.limits.stop) {
                                throw new MaxLengthError('Decode error - repeated field "stop" had too many elements');
                            }
                            obj.stop.push(reader.string());
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    stop: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.modelId`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.maxTokens`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.temperature`,
                                value: reader.double()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.topP`,
                                value: reader.double()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.topK`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.seed`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 7: {
                            if (opts.limits?.stop != null && obj.stop === opts.limits.stop) {
                                throw new MaxLengthError('Streaming decode error - repeated field "stop" had too many elements');
                            }
                            yield {
                                field: `${prefix}.stop[]`,
                                index: obj.stop,
                                value: reader.string()
                            };
                            obj.stop++;
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, TaskParams.codec());
    }
    TaskParams.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, TaskParams.codec(), opts);
    }
    TaskParams.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, TaskParams.codec(), opts);
    }
    TaskParams.stream = stream;
})(TaskParams || (TaskParams = {}));
export var TaskQueued;
(function (TaskQueued) {
    let _codec;
    TaskQueued.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.sessionId != null && obj.sessionId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.sessionId);
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(16);
                    w.uint64(obj.taskId);
                }
                if ((obj.promptCid != null && obj.promptCid.byteLength > 0)) {
                    w.uint32(26);
                    w.bytes(obj.promptCid);
                }
                if (obj.params != null) {
                    w.uint32(34);
                    TaskParams.codec().encode(obj.params, w);
                }
                if ((obj.submitter != null && obj.submitter.byteLength > 0)) {
                    w.uint32(42);
                    w.bytes(obj.submitter);
                }
                if ((obj.deadlineMs != null && obj.deadlineMs !== 0n)) {
                    w.uint32(48);
                    w.uint64(obj.deadlineMs);
                }
                if ((obj.redundancy != null && obj.redundancy !== 0)) {
                    w.uint32(56);
                    w.uint32(obj.redundancy);
                }
                if (obj.promptBlock != null) {
                    w.uint32(66);
                    w.bytes(obj.promptBlock);
                }
                if (obj.seed != null) {
                    w.uint32(74);
                    w.bytes(obj.seed);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    sessionId: 0n,
                    taskId: 0n,
                    promptCid: uint8ArrayAlloc(0),
                    submitter: uint8ArrayAlloc(0),
                    deadlineMs: 0n,
                    redundancy: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.sessionId = reader.uint64();
                            break;
                        }
                        case 2: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 3: {
                            obj.promptCid = reader.bytes();
                            break;
                        }
                        case 4: {
                            obj.params = TaskParams.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.params
                            });
                            break;
                        }
                        case 5: {
                            obj.submitter = reader.bytes();
                            break;
                        }
                        case 6: {
                            obj.deadlineMs = reader.uint64();
                            break;
                        }
                        case 7: {
                            obj.redundancy = reader.uint32();
                            break;
                        }
                        case 8: {
                            obj.promptBlock = reader.bytes();
                            break;
                        }
                        case 9: {
                            obj.seed = reader.bytes();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.sessionId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.promptCid`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 4: {
                            yield* TaskParams.codec().stream(reader, reader.uint32(), `${prefix}.params`, {
                                limits: opts.limits?.params
                            });
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.submitter`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.deadlineMs`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 7: {
                            yield {
                                field: `${prefix}.redundancy`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 8: {
                            yield {
                                field: `${prefix}.promptBlock`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 9: {
                            yield {
                                field: `${prefix}.seed`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, TaskQueued.codec());
    }
    TaskQueued.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, TaskQueued.codec(), opts);
    }
    TaskQueued.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, TaskQueued.codec(), opts);
    }
    TaskQueued.stream = stream;
})(TaskQueued || (TaskQueued = {}));
export var Assignment;
(function (Assignment) {
    let _codec;
    Assignment.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.taskId);
                }
                if (obj.miners != null && obj.miners.length > 0) {
                    for (const value of obj.miners) {
                        w.uint32(18);
                        w.bytes(value);
                    }
                }
                if ((obj.selectionSeed != null && obj.selectionSeed.byteLength > 0)) {
                    w.uint32(26);
                    w.bytes(obj.selectionSeed);
                }
                if ((obj.leader != null && obj.leader.byteLength > 0)) {
                    w.uint32(34);
                    w.bytes(obj.leader);
                }
                if ((obj.round != null && obj.round !== 0)) {
                    w.uint32(40);
                    w.uint32(obj.round);
                }
                if ((obj.signature != null && obj.signature.byteLength > 0)) {
                    w.uint32(50);
                    w.bytes(obj.signature);
                }
                if ((obj.sessionId != null && obj.sessionId !== 0n)) {
                    w.uint32(56);
                    w.uint64(obj.sessionId);
                }
                if (obj.promptDigest != null) {
                    w.uint32(66);
                    w.bytes(obj.promptDigest);
                }
                if (obj.paramsDigest != null) {
                    w.uint32(74);
                    w.bytes(obj.paramsDigest);
                }
                if (obj.replaced != null && obj.replaced.length > 0) {
                    for (const value of obj.replaced) {
                        w.uint32(82);
                        w.bytes(value);
                    }
                }
                if (obj.announcement != null) {
                    w.uint32(90);
                    w.bytes(obj.announcement);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    miners: [],
                    selectionSeed: uint8ArrayAlloc(0),
                    leader: uint8ArrayAlloc(0),
                    round: 0,
                    signature: uint8ArrayAlloc(0),
                    sessionId: 0n,
                    replaced: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 2: {
                            if (opts.limits?.miners != null && obj.miners.length === opts.limits.miners) {
                                throw new MaxLengthError('Decode error - repeated field "miners" had too many elements');
                            }
                            obj.miners.push(reader.bytes());
                            break;
                        }
                        case 3: {
                            obj.selectionSeed = reader.bytes();
                            break;
                        }
                        case 4: {
                            obj.leader = reader.bytes();
                            break;
                        }
                        case 5: {
                            obj.round = reader.uint32();
                            break;
                        }
                        case 6: {
                            obj.signature = reader.bytes();
                            break;
                        }
                        case 7: {
                            obj.sessionId = reader.uint64();
                            break;
                        }
                        case 8: {
                            obj.promptDigest = reader.bytes();
                            break;
                        }
                        case 9: {
                            obj.paramsDigest = reader.bytes();
                            break;
                        }
                        case 10: {
                            if (opts.limits?.replaced != null && obj.replaced.length === opts.limits.replaced) {
                                throw new MaxLengthError('Decode error - repeated field "replaced" had too many elements');
                            }
                            obj.replaced.push(reader.bytes());
                            break;
                        }
                        case 11: {
                            obj.announcement = reader.bytes();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    miners: 0,
                    replaced: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            if (opts.limits?.miners != null && obj.miners === opts.limits.miners) {
                                throw new MaxLengthError('Streaming decode error - repeated field "miners" had too many elements');
                            }
                            yield {
                                field: `${prefix}.miners[]`,
                                index: obj.miners,
                                value: reader.bytes()
                            };
                            obj.miners++;
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.selectionSeed`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.leader`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.round`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.signature`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 7: {
                            yield {
                                field: `${prefix}.sessionId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 8: {
                            yield {
                                field: `${prefix}.promptDigest`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 9: {
                            yield {
                                field: `${prefix}.paramsDigest`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 10: {
                            if (opts.limits?.replaced != null && obj.replaced === opts.limits.replaced) {
                                throw new MaxLengthError('Streaming decode error - repeated field "replaced" had too many elements');
                            }
                            yield {
                                field: `${prefix}.replaced[]`,
                                index: obj.replaced,
                                value: reader.bytes()
                            };
                            obj.replaced++;
                            break;
                        }
                        case 11: {
                            yield {
                                field: `${prefix}.announcement`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Assignment.codec());
    }
    Assignment.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Assignment.codec(), opts);
    }
    Assignment.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Assignment.codec(), opts);
    }
    Assignment.stream = stream;
})(Assignment || (Assignment = {}));
export var Ack;
(function (Ack) {
    let _codec;
    Ack.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.taskId);
                }
                if ((obj.miner != null && obj.miner.byteLength > 0)) {
                    w.uint32(18);
                    w.bytes(obj.miner);
                }
                if ((obj.round != null && obj.round !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.round);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    miner: uint8ArrayAlloc(0),
                    round: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 2: {
                            obj.miner = reader.bytes();
                            break;
                        }
                        case 3: {
                            obj.round = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.miner`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.round`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Ack.codec());
    }
    Ack.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Ack.codec(), opts);
    }
    Ack.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Ack.codec(), opts);
    }
    Ack.stream = stream;
})(Ack || (Ack = {}));
export var Precommit;
(function (Precommit) {
    let _codec;
    Precommit.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.taskId);
                }
                if ((obj.miner != null && obj.miner.byteLength > 0)) {
                    w.uint32(18);
                    w.bytes(obj.miner);
                }
                if ((obj.commitment != null && obj.commitment.byteLength > 0)) {
                    w.uint32(26);
                    w.bytes(obj.commitment);
                }
                if ((obj.signature != null && obj.signature.byteLength > 0)) {
                    w.uint32(34);
                    w.bytes(obj.signature);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    miner: uint8ArrayAlloc(0),
                    commitment: uint8ArrayAlloc(0),
                    signature: uint8ArrayAlloc(0)
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 2: {
                            obj.miner = reader.bytes();
                            break;
                        }
                        case 3: {
                            obj.commitment = reader.bytes();
                            break;
                        }
                        case 4: {
                            obj.signature = reader.bytes();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.miner`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.commitment`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.signature`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Precommit.codec());
    }
    Precommit.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Precommit.codec(), opts);
    }
    Precommit.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Precommit.codec(), opts);
    }
    Precommit.stream = stream;
})(Precommit || (Precommit = {}));
export var Reveal;
(function (Reveal) {
    let _codec;
    Reveal.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.taskId);
                }
                if ((obj.miner != null && obj.miner.byteLength > 0)) {
                    w.uint32(18);
                    w.bytes(obj.miner);
                }
                if ((obj.outputCid != null && obj.outputCid.byteLength > 0)) {
                    w.uint32(26);
                    w.bytes(obj.outputCid);
                }
                if ((obj.salt != null && obj.salt.byteLength > 0)) {
                    w.uint32(34);
                    w.bytes(obj.salt);
                }
                if (obj.signature != null) {
                    w.uint32(42);
                    w.bytes(obj.signature);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    miner: uint8ArrayAlloc(0),
                    outputCid: uint8ArrayAlloc(0),
                    salt: uint8ArrayAlloc(0)
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 2: {
                            obj.miner = reader.bytes();
                            break;
                        }
                        case 3: {
                            obj.outputCid = reader.bytes();
                            break;
                        }
                        case 4: {
                            obj.salt = reader.bytes();
                            break;
                        }
                        case 5: {
                            obj.signature = reader.bytes();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.miner`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.outputCid`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.salt`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.signature`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Reveal.codec());
    }
    Reveal.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Reveal.codec(), opts);
    }
    Reveal.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Reveal.codec(), opts);
    }
    Reveal.stream = stream;
})(Reveal || (Reveal = {}));
export var MinerVerdict;
(function (MinerVerdict) {
    let Outcome;
    (function (Outcome) {
        Outcome["ACCEPTED"] = "ACCEPTED";
        Outcome["REJECTED_STRUCTURAL"] = "REJECTED_STRUCTURAL";
        Outcome["REJECTED_REPLAY"] = "REJECTED_REPLAY";
        Outcome["OUTLIER"] = "OUTLIER";
        Outcome["MISSING"] = "MISSING";
        Outcome["REVEAL_MISMATCH"] = "REVEAL_MISMATCH";
        Outcome["UNVERIFIABLE"] = "UNVERIFIABLE";
    })(Outcome = MinerVerdict.Outcome || (MinerVerdict.Outcome = {}));
    let __OutcomeValues;
    (function (__OutcomeValues) {
        __OutcomeValues[__OutcomeValues["ACCEPTED"] = 0] = "ACCEPTED";
        __OutcomeValues[__OutcomeValues["REJECTED_STRUCTURAL"] = 1] = "REJECTED_STRUCTURAL";
        __OutcomeValues[__OutcomeValues["REJECTED_REPLAY"] = 2] = "REJECTED_REPLAY";
        __OutcomeValues[__OutcomeValues["OUTLIER"] = 3] = "OUTLIER";
        __OutcomeValues[__OutcomeValues["MISSING"] = 4] = "MISSING";
        __OutcomeValues[__OutcomeValues["REVEAL_MISMATCH"] = 5] = "REVEAL_MISMATCH";
        __OutcomeValues[__OutcomeValues["UNVERIFIABLE"] = 6] = "UNVERIFIABLE";
    })(__OutcomeValues || (__OutcomeValues = {}));
    (function (Outcome) {
        Outcome.codec = () => {
            return enumeration(__OutcomeValues);
        };
    })(Outcome = MinerVerdict.Outcome || (MinerVerdict.Outcome = {}));
    let _codec;
    MinerVerdict.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.miner != null && obj.miner.byteLength > 0)) {
                    w.uint32(10);
                    w.bytes(obj.miner);
                }
                if (obj.outcome != null && __OutcomeValues[obj.outcome] !== 0) {
                    w.uint32(16);
                    MinerVerdict.Outcome.codec().encode(obj.outcome, w);
                }
                if ((obj.similarityPpm != null && obj.similarityPpm !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.similarityPpm);
                }
                if (obj.replaySignature != null) {
                    w.uint32(34);
                    w.bytes(obj.replaySignature);
                }
                if (obj.deliveredTokens != null) {
                    w.uint32(40);
                    w.uint32(obj.deliveredTokens);
                }
                if (obj.deliveredMs != null) {
                    w.uint32(48);
                    w.uint32(obj.deliveredMs);
                }
                if (obj.firstTokenMs != null) {
                    w.uint32(56);
                    w.uint32(obj.firstTokenMs);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    miner: uint8ArrayAlloc(0),
                    outcome: Outcome.ACCEPTED,
                    similarityPpm: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.miner = reader.bytes();
                            break;
                        }
                        case 2: {
                            obj.outcome = MinerVerdict.Outcome.codec().decode(reader);
                            break;
                        }
                        case 3: {
                            obj.similarityPpm = reader.uint32();
                            break;
                        }
                        case 4: {
                            obj.replaySignature = reader.bytes();
                            break;
                        }
                        case 5: {
                            obj.deliveredTokens = reader.uint32();
                            break;
                        }
                        case 6: {
                            obj.deliveredMs = reader.uint32();
                            break;
                        }
                        case 7: {
                            obj.firstTokenMs = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.miner`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.outcome`,
                                value: MinerVerdict.Outcome.codec().decode(reader)
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.similarityPpm`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.replaySignature`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.deliveredTokens`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.deliveredMs`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 7: {
                            yield {
                                field: `${prefix}.firstTokenMs`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, MinerVerdict.codec());
    }
    MinerVerdict.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, MinerVerdict.codec(), opts);
    }
    MinerVerdict.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, MinerVerdict.codec(), opts);
    }
    MinerVerdict.stream = stream;
})(MinerVerdict || (MinerVerdict = {}));
export var Verdict;
(function (Verdict) {
    let _codec;
    Verdict.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.taskId);
                }
                if ((obj.oracle != null && obj.oracle.byteLength > 0)) {
                    w.uint32(18);
                    w.bytes(obj.oracle);
                }
                if (obj.miners != null && obj.miners.length > 0) {
                    for (const value of obj.miners) {
                        w.uint32(26);
                        MinerVerdict.codec().encode(value, w);
                    }
                }
                if ((obj.round != null && obj.round !== 0)) {
                    w.uint32(32);
                    w.uint32(obj.round);
                }
                if ((obj.signature != null && obj.signature.byteLength > 0)) {
                    w.uint32(42);
                    w.bytes(obj.signature);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    oracle: uint8ArrayAlloc(0),
                    miners: [],
                    round: 0,
                    signature: uint8ArrayAlloc(0)
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 2: {
                            obj.oracle = reader.bytes();
                            break;
                        }
                        case 3: {
                            if (opts.limits?.miners != null && obj.miners.length === opts.limits.miners) {
                                throw new MaxLengthError('Decode error - repeated field "miners" had too many elements');
                            }
                            obj.miners.push(MinerVerdict.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.miners$
                            }));
                            break;
                        }
                        case 4: {
                            obj.round = reader.uint32();
                            break;
                        }
                        case 5: {
                            obj.signature = reader.bytes();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const obj = {
                    miners: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.oracle`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 3: {
                            if (opts.limits?.miners != null && obj.miners === opts.limits.miners) {
                                throw new MaxLengthError('Streaming decode error - repeated field "miners" had too many elements');
                            }
                            for (const evt of MinerVerdict.codec().stream(reader, reader.uint32(), `${prefix}.miners[]`, {
                                limits: opts.limits?.miners$
                            })) {
                                yield {
                                    ...evt,
                                    index: obj.miners
                                };
                            }
                            obj.miners++;
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.round`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.signature`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Verdict.codec());
    }
    Verdict.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Verdict.codec(), opts);
    }
    Verdict.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Verdict.codec(), opts);
    }
    Verdict.stream = stream;
})(Verdict || (Verdict = {}));
export var Decline;
(function (Decline) {
    let Reason;
    (function (Reason) {
        Reason["CONTEXT_OVERFLOW"] = "CONTEXT_OVERFLOW";
        Reason["INVALID_PARAMS"] = "INVALID_PARAMS";
    })(Reason = Decline.Reason || (Decline.Reason = {}));
    let __ReasonValues;
    (function (__ReasonValues) {
        __ReasonValues[__ReasonValues["CONTEXT_OVERFLOW"] = 0] = "CONTEXT_OVERFLOW";
        __ReasonValues[__ReasonValues["INVALID_PARAMS"] = 1] = "INVALID_PARAMS";
    })(__ReasonValues || (__ReasonValues = {}));
    (function (Reason) {
        Reason.codec = () => {
            return enumeration(__ReasonValues);
        };
    })(Reason = Decline.Reason || (Decline.Reason = {}));
    let _codec;
    Decline.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.taskId);
                }
                if ((obj.miner != null && obj.miner.byteLength > 0)) {
                    w.uint32(18);
                    w.bytes(obj.miner);
                }
                if ((obj.round != null && obj.round !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.round);
                }
                if (obj.reason != null && __ReasonValues[obj.reason] !== 0) {
                    w.uint32(32);
                    Decline.Reason.codec().encode(obj.reason, w);
                }
                if ((obj.message != null && obj.message !== '')) {
                    w.uint32(42);
                    w.string(obj.message);
                }
                if ((obj.promptTokens != null && obj.promptTokens !== 0)) {
                    w.uint32(48);
                    w.uint32(obj.promptTokens);
                }
                if ((obj.contextTokens != null && obj.contextTokens !== 0)) {
                    w.uint32(56);
                    w.uint32(obj.contextTokens);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    miner: uint8ArrayAlloc(0),
                    round: 0,
                    reason: Reason.CONTEXT_OVERFLOW,
                    message: '',
                    promptTokens: 0,
                    contextTokens: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 2: {
                            obj.miner = reader.bytes();
                            break;
                        }
                        case 3: {
                            obj.round = reader.uint32();
                            break;
                        }
                        case 4: {
                            obj.reason = Decline.Reason.codec().decode(reader);
                            break;
                        }
                        case 5: {
                            obj.message = reader.string();
                            break;
                        }
                        case 6: {
                            obj.promptTokens = reader.uint32();
                            break;
                        }
                        case 7: {
                            obj.contextTokens = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.miner`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.round`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.reason`,
                                value: Decline.Reason.codec().decode(reader)
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.message`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.promptTokens`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 7: {
                            yield {
                                field: `${prefix}.contextTokens`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, Decline.codec());
    }
    Decline.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Decline.codec(), opts);
    }
    Decline.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Decline.codec(), opts);
    }
    Decline.stream = stream;
})(Decline || (Decline = {}));
export var FirstTokenReport;
(function (FirstTokenReport) {
    let _codec;
    FirstTokenReport.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.taskId != null && obj.taskId !== 0n)) {
                    w.uint32(8);
                    w.uint64(obj.taskId);
                }
                if ((obj.sessionId != null && obj.sessionId !== 0n)) {
                    w.uint32(16);
                    w.uint64(obj.sessionId);
                }
                if ((obj.submitter != null && obj.submitter.byteLength > 0)) {
                    w.uint32(26);
                    w.bytes(obj.submitter);
                }
                if ((obj.miner != null && obj.miner.byteLength > 0)) {
                    w.uint32(34);
                    w.bytes(obj.miner);
                }
                if ((obj.firstTokenMs != null && obj.firstTokenMs !== 0)) {
                    w.uint32(40);
                    w.uint32(obj.firstTokenMs);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    sessionId: 0n,
                    submitter: uint8ArrayAlloc(0),
                    miner: uint8ArrayAlloc(0),
                    firstTokenMs: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.taskId = reader.uint64();
                            break;
                        }
                        case 2: {
                            obj.sessionId = reader.uint64();
                            break;
                        }
                        case 3: {
                            obj.submitter = reader.bytes();
                            break;
                        }
                        case 4: {
                            obj.miner = reader.bytes();
                            break;
                        }
                        case 5: {
                            obj.firstTokenMs = reader.uint32();
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
                return obj;
            }, function* (reader, length, prefix, opts = {}) {
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.taskId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.sessionId`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.submitter`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.miner`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.firstTokenMs`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        default: {
                            reader.skipType(tag & 7);
                            break;
                        }
                    }
                }
            });
        }
        return _codec;
    };
    function encode(obj) {
        return encodeMessage(obj, FirstTokenReport.codec());
    }
    FirstTokenReport.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, FirstTokenReport.codec(), opts);
    }
    FirstTokenReport.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, FirstTokenReport.codec(), opts);
    }
    FirstTokenReport.stream = stream;
})(FirstTokenReport || (FirstTokenReport = {}));
