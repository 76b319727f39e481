// Generated from stream.proto by protons, compiled by tsc (test/protocols/codegen.ts). Do not edit.
// @ts-nocheck
import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime';
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc';
export var StreamRequest;
(function (StreamRequest) {
    let _codec;
    StreamRequest.codec = () => {
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
                if ((obj.fromIndex != null && obj.fromIndex !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.fromIndex);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    taskId: 0n,
                    sessionId: 0n,
                    fromIndex: 0
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
                            obj.fromIndex = reader.uint32();
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
                                field: `${prefix}.fromIndex`,
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
        return encodeMessage(obj, StreamRequest.codec());
    }
    StreamRequest.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, StreamRequest.codec(), opts);
    }
    StreamRequest.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, StreamRequest.codec(), opts);
    }
    StreamRequest.stream = stream;
})(StreamRequest || (StreamRequest = {}));
export var TokenFrame;
(function (TokenFrame) {
    let _codec;
    TokenFrame.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if ((obj.index != null && obj.index !== 0)) {
                    w.uint32(8);
                    w.uint32(obj.index);
                }
                if ((obj.text != null && obj.text !== '')) {
                    w.uint32(18);
                    w.string(obj.text);
                }
                if (obj.tokenIds != null && obj.tokenIds.length > 0) {
                    for (const value of obj.tokenIds) {
                        w.uint32(24);
                        w.uint32(value);
                    }
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    index: 0,
                    text: '',
                    tokenIds: []
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.index = reader.uint32();
                            break;
                        }
                        case 2: {
                            obj.text = reader.string();
                            break;
                        }
                        case 3: {
                            if (opts.limits?.tokenIds != null && obj.tokenIds.length === opts.limits.tokenIds) {
                                throw new MaxLengthError('Decode error - repeated field "tokenIds" had too many elements');
                            }
                            obj.tokenIds.push(reader.uint32());
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
                    tokenIds: 0
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield {
                                field: `${prefix}.index`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.text`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 3: {
                            if (opts.limits?.tokenIds != null && obj.tokenIds === opts.limits.tokenIds) {
                                throw new MaxLengthError('Streaming decode error - repeated field "tokenIds" had too many elements');
                            }
                            yield {
                                field: `${prefix}.tokenIds[]`,
                                index: obj.tokenIds,
                                value: reader.uint32()
                            };
                            obj.tokenIds++;
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
        return encodeMessage(obj, TokenFrame.codec());
    }
    TokenFrame.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, TokenFrame.codec(), opts);
    }
    TokenFrame.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, TokenFrame.codec(), opts);
    }
    TokenFrame.stream = stream;
})(TokenFrame || (TokenFrame = {}));
export var StreamEnd;
(function (StreamEnd) {
    let Code;
    (function (Code) {
        Code["OK"] = "OK";
        Code["UNKNOWN_TASK"] = "UNKNOWN_TASK";
        Code["NOT_ASSIGNED"] = "NOT_ASSIGNED";
        Code["CANCELLED"] = "CANCELLED";
        Code["ENGINE_ERROR"] = "ENGINE_ERROR";
        Code["TIMEOUT"] = "TIMEOUT";
        Code["TOO_MANY_STREAMS"] = "TOO_MANY_STREAMS";
        Code["BAD_REQUEST"] = "BAD_REQUEST";
    })(Code = StreamEnd.Code || (StreamEnd.Code = {}));
    let __CodeValues;
    (function (__CodeValues) {
        __CodeValues[__CodeValues["OK"] = 0] = "OK";
        __CodeValues[__CodeValues["UNKNOWN_TASK"] = 1] = "UNKNOWN_TASK";
        __CodeValues[__CodeValues["NOT_ASSIGNED"] = 2] = "NOT_ASSIGNED";
        __CodeValues[__CodeValues["CANCELLED"] = 3] = "CANCELLED";
        __CodeValues[__CodeValues["ENGINE_ERROR"] = 4] = "ENGINE_ERROR";
        __CodeValues[__CodeValues["TIMEOUT"] = 5] = "TIMEOUT";
        __CodeValues[__CodeValues["TOO_MANY_STREAMS"] = 6] = "TOO_MANY_STREAMS";
        __CodeValues[__CodeValues["BAD_REQUEST"] = 7] = "BAD_REQUEST";
    })(__CodeValues || (__CodeValues = {}));
    (function (Code) {
        Code.codec = () => {
            return enumeration(__CodeValues);
        };
    })(Code = StreamEnd.Code || (StreamEnd.Code = {}));
    let _codec;
    StreamEnd.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if (obj.code != null && __CodeValues[obj.code] !== 0) {
                    w.uint32(8);
                    StreamEnd.Code.codec().encode(obj.code, w);
                }
                if ((obj.message != null && obj.message !== '')) {
                    w.uint32(18);
                    w.string(obj.message);
                }
                if ((obj.tokenCount != null && obj.tokenCount !== 0)) {
                    w.uint32(24);
                    w.uint32(obj.tokenCount);
                }
                if ((obj.outputCid != null && obj.outputCid.byteLength > 0)) {
                    w.uint32(34);
                    w.bytes(obj.outputCid);
                }
                if (obj.promptTokens != null) {
                    w.uint32(40);
                    w.uint32(obj.promptTokens);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {
                    code: Code.OK,
                    message: '',
                    tokenCount: 0,
                    outputCid: uint8ArrayAlloc(0)
                };
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.code = StreamEnd.Code.codec().decode(reader);
                            break;
                        }
                        case 2: {
                            obj.message = reader.string();
                            break;
                        }
                        case 3: {
                            obj.tokenCount = reader.uint32();
                            break;
                        }
                        case 4: {
                            obj.outputCid = reader.bytes();
                            break;
                        }
                        case 5: {
                            obj.promptTokens = reader.uint32();
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
                                field: `${prefix}.code`,
                                value: StreamEnd.Code.codec().decode(reader)
                            };
                            break;
                        }
                        case 2: {
                            yield {
                                field: `${prefix}.message`,
                                value: reader.string()
                            };
                            break;
                        }
                        case 3: {
                            yield {
                                field: `${prefix}.tokenCount`,
                                value: reader.uint32()
                            };
                            break;
                        }
                        case 4: {
                            yield {
                                field: `${prefix}.outputCid`,
                                value: reader.bytes()
                            };
                            break;
                        }
                        case 5: {
                            yield {
                                field: `${prefix}.promptTokens`,
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
        return encodeMessage(obj, StreamEnd.codec());
    }
    StreamEnd.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, StreamEnd.codec(), opts);
    }
    StreamEnd.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, StreamEnd.codec(), opts);
    }
    StreamEnd.stream = stream;
})(StreamEnd || (StreamEnd = {}));
export var StreamFrame;
(function (StreamFrame) {
    let _codec;
    StreamFrame.codec = () => {
        if (_codec == null) {
            _codec = message((obj, w, opts = {}) => {
                if (opts.lengthDelimited !== false) {
                    w.fork();
                }
                if (obj.token != null) {
                    w.uint32(10);
                    TokenFrame.codec().encode(obj.token, w);
                }
                if (obj.end != null) {
                    w.uint32(18);
                    StreamEnd.codec().encode(obj.end, w);
                }
                if (opts.lengthDelimited !== false) {
                    w.ldelim();
                }
            }, (reader, length, opts = {}) => {
                const obj = {};
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            obj.token = TokenFrame.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.token
                            });
                            break;
                        }
                        case 2: {
                            obj.end = StreamEnd.codec().decode(reader, reader.uint32(), {
                                limits: opts.limits?.end
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
                const end = length == null ? reader.len : reader.pos + length;
                while (reader.pos < end) {
                    const tag = reader.uint32();
                    switch (tag >>> 3) {
                        case 1: {
                            yield* TokenFrame.codec().stream(reader, reader.uint32(), `${prefix}.token`, {
                                limits: opts.limits?.token
                            });
                            break;
                        }
                        case 2: {
                            yield* StreamEnd.codec().stream(reader, reader.uint32(), `${prefix}.end`, {
                                limits: opts.limits?.end
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
        return encodeMessage(obj, StreamFrame.codec());
    }
    StreamFrame.encode = encode;
    function decode(buf, opts) {
        return decodeMessage(buf, StreamFrame.codec(), opts);
    }
    StreamFrame.decode = decode;
    function stream(buf, opts) {
        return streamMessage(buf, StreamFrame.codec(), opts);
    }
    StreamFrame.stream = stream;
})(StreamFrame || (StreamFrame = {}));
