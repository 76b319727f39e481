// Generated from pool.proto by protons, compiled by tsc (test/protocols/codegen.ts). Do not edit.
// @ts-nocheck
import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime';
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc';
export var Heartbeat;
(function (Heartbeat) {
    let _codec;
    Heartbeat.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.node != null && obj.node.byteLength > 0)) {
                    w.uint32(10);
                    w.bytes(obj.node);
                }
                if (obj.models != null && obj.models.length > 0) {
                    for (const value of obj.models) {
                        w.uint32(18);
                        w.string(value);
                    }
                }
                if ((obj.hardwareClass != null && obj.hardwareClass !== '')) {
                    w.uint32(26);
                    w.string(obj.hardwareClass);
                }
                if ((obj.level != null && obj.level !== 0)) {
                    w.uint32(32);
                    w.uint32(obj.level);
                }
                if ((obj.tokensPerSecondMilli != null && obj.tokensPerSecondMilli !== 0)) {
                    w.uint32(40);
                    w.uint32(obj.tokensPerSecondMilli);
                }
                if ((obj.loadPermille != null && obj.loadPermille !== 0)) {
                    w.uint32(48);
                    w.uint32(obj.loadPermille);
                }
                if ((obj.reservedBySession != null && obj.reservedBySession !== 0n)) {
                    w.uint32(56);
                    w.uint64(obj.reservedBySession);
                }
                if ((obj.timestampMs != null && obj.timestampMs !== 0n)) {
                    w.uint32(64);
                    w.uint64(obj.timestampMs);
                }
                if ((obj.seq != null && obj.seq !== 0n)) {
                    w.uint32(72);
                    w.uint64(obj.seq);
                }
                if (obj.reservedUntilMs != null) {
                    w.uint32(80);
                    w.uint64(obj.reservedUntilMs);
                }
                if (obj.contextTokens != null) {
                    w.uint32(88);
                    w.uint32(obj.contextTokens);
                }
                if (obj.intervalMs != null) {
                    w.uint32(96);
                    w.uint32(obj.intervalMs);
                }
                if (obj.firstTokenMs != null) {
                    w.uint32(104);
                    w.uint32(obj.firstTokenMs);
                }
                if (obj.hardware != null) {
                    w.uint32(114);
                    Hardware.codec().encode(obj.hardware, w);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    node: uint8ArrayAlloc(0),
                    models: [],
                    hardwareClass: '',
                    level: 0,
                    tokensPerSecondMilli: 0,
                    loadPermille: 0,
                    reservedBySession: 0n,
                    timestampMs: 0n,
                    seq: 0n
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.node = reader.bytes();
                            break;
                        }
                        case 2: {
                            if (opts.limits?.models != null && obj.models.length === opts.limits.models) {
                                throw new MaxLengthError('Decode error - repeated field "models" had too many elements');
                            }
                            obj.models.push(reader.string());
                            break;
                        }
                        case 3: {
                            obj.hardwareClass = reader.string();
                            break;
                        }
                        case 4: {
                            obj.level = reader.uint32();
                            break;
                        }
                        case 5: {
                            obj.tokensPerSecondMilli = reader.uint32();
                            break;
                        }
                        case 6: {
                            obj.loadPermille = reader.uint32();
                            break;
                        }
                        case 7: {
                            obj.reservedBySession = reader.uint64();
                            break;
                        }
                        case 8: {
                            obj.timestampMs = reader.uint64();
                            break;
                        }
                        case 9: {
                            obj.seq = reader.uint64();
                            break;
                        }
                        case 10: {
                            obj.reservedUntilMs = reader.uint64();
                            break;
                        }
                        case 11: {
                            obj.contextTokens = reader.uint32();
                            break;
                        }
                        case 12: {
                            obj.intervalMs = reader.uint32();
                            break;
                        }
                        case 13: {
                            obj.firstTokenMs = reader.uint32();
                            break;
                        }
                        case 14: {
                            obj.hardware = Hardware.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.hardware
                            });
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
                    models: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.node`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 2: {
                            if (opts.limits?.models != null && obj.models === opts.limits.models) {
                                throw new MaxLengthError('Streaming decode error - repeated field "models" had too many elements');
                            }
                            yield {
                                field: `${prefix}.models[]`,
                                index: obj.models,
                                value: reader.string()
                            };
                            obj.models++;
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.hardwareClass`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.level`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.tokensPerSecondMilli`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 6: {
                            yield {
                                field: `${prefix}.loadPermille`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 7: {
                            yield {
                                field: `${prefix}.reservedBySession`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 8: {
                            yield {
                                field: `${prefix}.timestampMs`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 9: {
                            yield {
                                field: `${prefix}.seq`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 10: {
                            yield {
                                field: `${prefix}.reservedUntilMs`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 11: {
                            yield {
                                field: `${prefix}.contextTokens`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 12: {
                            yield {
                                field: `${prefix}.intervalMs`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 13: {
                            yield {
                                field: `${prefix}.firstTokenMs`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 14: {
                            yield* Hardware.codec().stream(reader, reader.uint32(), `${prefix}.hardware`, {
                                limits: opts.limits?.hardware
                            });
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
        return encodeMessage(obj, Heartbeat.codec());
    }
    Heartbeat.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Heartbeat.codec(), opts);
    }
    Heartbeat.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Heartbeat.codec(), opts);
    }
    Heartbeat.stream = stream;
})(Heartbeat || (Heartbeat = {}));
export var Hardware;
(function (Hardware) {
    let _codec;
    Hardware.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.backend != null && obj.backend !== '')) {
                    w.uint32(10);
                    w.string(obj.backend);
                }
                if (obj.gpuDevices != null && obj.gpuDevices.length > 0) {
                    for (const value of obj.gpuDevices) {
                        w.uint32(18);
                        w.string(value);
                    }
                }
                if ((obj.vramBytes != null && obj.vramBytes !== 0n)) {
                    w.uint32(24);
                    w.uint64(obj.vramBytes);
                }
                if ((obj.threads != null && obj.threads !== 0)) {
                    w.uint32(32);
                    w.uint32(obj.threads);
                }
                if ((obj.sequences != null && obj.sequences !== 0)) {
                    w.uint32(40);
                    w.uint32(obj.sequences);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    backend: '',
                    gpuDevices: [],
                    vramBytes: 0n,
                    threads: 0,
                    sequences: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.backend = reader.string();
                            break;
                        }
                        case 2: {
                            if (opts.limits?.gpuDevices != null && obj.gpuDevices.length === opts.limits.gpuDevices) {
                                throw new MaxLengthError('Decode error - repeated field "gpuDevices" had too many elements');
                            }
                            obj.gpuDevices.push(reader.string());
                            break;
                        }
                        case 3: {
                            obj.vramBytes = reader.uint64();
                            break;
                        }
                        case 4: {
                            obj.threads = reader.uint32();
                            break;
                        }
                        case 5: {
                            obj.sequences = reader.uint32();
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
                    gpuDevices: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.backend`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 2: {
                            if (opts.limits?.gpuDevices != null && obj.gpuDevices === opts.limits.gpuDevices) {
                                throw new MaxLengthError('Streaming decode error - repeated field "gpuDevices" had too many elements');
                            }
                            yield {
                                field: `${prefix}.gpuDevices[]`,
                                index: obj.gpuDevices,
                                value: reader.string()
                            };
                            obj.gpuDevices++;
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.vramBytes`,
                                value: reader.uint64()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.threads`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.sequences`,
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
        return encodeMessage(obj, Hardware.codec());
    }
    Hardware.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, Hardware.codec(), opts);
    }
    Hardware.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, Hardware.codec(), opts);
    }
    Hardware.stream = stream;
})(Hardware || (Hardware = {}));
