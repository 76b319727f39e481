// Generated from stream.proto by protons, compiled by tsc (test/protocols/codegen.ts). Do not edit.
import type { Codec, DecodeOptions } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
export interface StreamRequest {
    taskId: bigint;
    sessionId: bigint;
    fromIndex: number;
}
export declare namespace StreamRequest {
    const codec: () => Codec<StreamRequest>;
    interface StreamRequestTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface StreamRequestSessionIdFieldEvent {
        field: '$.sessionId';
        value: bigint;
    }
    interface StreamRequestFromIndexFieldEvent {
        field: '$.fromIndex';
        value: number;
    }
    function encode(obj: Partial<StreamRequest>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StreamRequest>): StreamRequest;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StreamRequest>): Generator<StreamRequestTaskIdFieldEvent | StreamRequestSessionIdFieldEvent | StreamRequestFromIndexFieldEvent>;
}
export interface TokenFrame {
    index: number;
    text: string;
    tokenIds: number[];
}
export declare namespace TokenFrame {
    const codec: () => Codec<TokenFrame>;
    interface TokenFrameIndexFieldEvent {
        field: '$.index';
        value: number;
    }
    interface TokenFrameTextFieldEvent {
        field: '$.text';
        value: string;
    }
    interface TokenFrameTokenIdsFieldEvent {
        field: '$.tokenIds[]';
        index: number;
        value: number;
    }
    function encode(obj: Partial<TokenFrame>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenFrame>): TokenFrame;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenFrame>): Generator<TokenFrameIndexFieldEvent | TokenFrameTextFieldEvent | TokenFrameTokenIdsFieldEvent>;
}
export interface StreamEnd {
    code: StreamEnd.Code;
    message: string;
    tokenCount: number;
    outputCid: Uint8Array<ArrayBuffer>;
    promptTokens?: number;
}
export declare namespace StreamEnd {
    enum Code {
        OK = "OK",
        UNKNOWN_TASK = "UNKNOWN_TASK",
        NOT_ASSIGNED = "NOT_ASSIGNED",
        CANCELLED = "CANCELLED",
        ENGINE_ERROR = "ENGINE_ERROR",
        TIMEOUT = "TIMEOUT",
        TOO_MANY_STREAMS = "TOO_MANY_STREAMS",
        BAD_REQUEST = "BAD_REQUEST"
    }
    namespace Code {
        const codec: () => Codec<Code>;
    }
    const codec: () => Codec<StreamEnd>;
    interface StreamEndCodeFieldEvent {
        field: '$.code';
        value: StreamEnd.Code;
    }
    interface StreamEndMessageFieldEvent {
        field: '$.message';
        value: string;
    }
    interface StreamEndTokenCountFieldEvent {
        field: '$.tokenCount';
        value: number;
    }
    interface StreamEndOutputCidFieldEvent {
        field: '$.outputCid';
        value: Uint8Array<ArrayBuffer>;
    }
    interface StreamEndPromptTokensFieldEvent {
        field: '$.promptTokens';
        value: number;
    }
    function encode(obj: Partial<StreamEnd>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StreamEnd>): StreamEnd;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StreamEnd>): Generator<StreamEndCodeFieldEvent | StreamEndMessageFieldEvent | StreamEndTokenCountFieldEvent | StreamEndOutputCidFieldEvent | StreamEndPromptTokensFieldEvent>;
}
export interface StreamFrame {
    token?: TokenFrame;
    end?: StreamEnd;
}
export declare namespace StreamFrame {
    const codec: () => Codec<StreamFrame>;
    interface StreamFrameTokenIndexFieldEvent {
        field: '$.token.index';
        value: number;
    }
    interface StreamFrameTokenTextFieldEvent {
        field: '$.token.text';
        value: string;
    }
    interface StreamFrameTokenTokenIdsFieldEvent {
        field: '$.token.tokenIds[]';
        index: number;
        value: number;
    }
    interface StreamFrameEndCodeFieldEvent {
        field: '$.end.code';
        value: StreamEnd.Code;
    }
    interface StreamFrameEndMessageFieldEvent {
        field: '$.end.message';
        value: string;
    }
    interface StreamFrameEndTokenCountFieldEvent {
        field: '$.end.tokenCount';
        value: number;
    }
    interface StreamFrameEndOutputCidFieldEvent {
        field: '$.end.outputCid';
        value: Uint8Array<ArrayBuffer>;
    }
    interface StreamFrameEndPromptTokensFieldEvent {
        field: '$.end.promptTokens';
        value: number;
    }
    function encode(obj: Partial<StreamFrame>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StreamFrame>): StreamFrame;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StreamFrame>): Generator<StreamFrameTokenIndexFieldEvent | StreamFrameTokenTextFieldEvent | StreamFrameTokenTokenIdsFieldEvent | StreamFrameEndCodeFieldEvent | StreamFrameEndMessageFieldEvent | StreamFrameEndTokenCountFieldEvent | StreamFrameEndOutputCidFieldEvent | StreamFrameEndPromptTokensFieldEvent>;
}
