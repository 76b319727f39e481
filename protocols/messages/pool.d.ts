// Generated from pool.proto by protons, compiled by tsc (test/protocols/codegen.ts). Do not edit.
import type { Codec, DecodeOptions } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
export interface Heartbeat {
    node: Uint8Array<ArrayBuffer>;
    models: string[];
    hardwareClass: string;
    level: number;
    tokensPerSecondMilli: number;
    loadPermille: number;
    reservedBySession: bigint;
    timestampMs: bigint;
    seq: bigint;
    reservedUntilMs?: bigint;
    contextTokens?: number;
    intervalMs?: number;
    firstTokenMs?: number;
    hardware?: Hardware;
}
export declare namespace Heartbeat {
    const codec: () => Codec<Heartbeat>;
    interface HeartbeatNodeFieldEvent {
        field: '$.node';
        value: Uint8Array<ArrayBuffer>;
    }
    interface HeartbeatModelsFieldEvent {
        field: '$.models[]';
        index: number;
        value: string;
    }
    interface HeartbeatHardwareClassFieldEvent {
        field: '$.hardwareClass';
        value: string;
    }
    interface HeartbeatLevelFieldEvent {
        field: '$.level';
        value: number;
    }
    interface HeartbeatTokensPerSecondMilliFieldEvent {
        field: '$.tokensPerSecondMilli';
        value: number;
    }
    interface HeartbeatLoadPermilleFieldEvent {
        field: '$.loadPermille';
        value: number;
    }
    interface HeartbeatReservedBySessionFieldEvent {
        field: '$.reservedBySession';
        value: bigint;
    }
    interface HeartbeatTimestampMsFieldEvent {
        field: '$.timestampMs';
        value: bigint;
    }
    interface HeartbeatSeqFieldEvent {
        field: '$.seq';
        value: bigint;
    }
    interface HeartbeatReservedUntilMsFieldEvent {
        field: '$.reservedUntilMs';
        value: bigint;
    }
    interface HeartbeatContextTokensFieldEvent {
        field: '$.contextTokens';
        value: number;
    }
    interface HeartbeatIntervalMsFieldEvent {
        field: '$.intervalMs';
        value: number;
    }
    interface HeartbeatFirstTokenMsFieldEvent {
        field: '$.firstTokenMs';
        value: number;
    }
    interface HeartbeatHardwareBackendFieldEvent {
        field: '$.hardware.backend';
        value: string;
    }
    interface HeartbeatHardwareGpuDevicesFieldEvent {
        field: '$.hardware.gpuDevices[]';
        index: number;
        value: string;
    }
    interface HeartbeatHardwareVramBytesFieldEvent {
        field: '$.hardware.vramBytes';
        value: bigint;
    }
    interface HeartbeatHardwareThreadsFieldEvent {
        field: '$.hardware.threads';
        value: number;
    }
    interface HeartbeatHardwareSequencesFieldEvent {
        field: '$.hardware.sequences';
        value: number;
    }
    function encode(obj: Partial<Heartbeat>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Heartbeat;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Generator<HeartbeatNodeFieldEvent | HeartbeatModelsFieldEvent | HeartbeatHardwareClassFieldEvent | HeartbeatLevelFieldEvent | HeartbeatTokensPerSecondMilliFieldEvent | HeartbeatLoadPermilleFieldEvent | HeartbeatReservedBySessionFieldEvent | HeartbeatTimestampMsFieldEvent | HeartbeatSeqFieldEvent | HeartbeatReservedUntilMsFieldEvent | HeartbeatContextTokensFieldEvent | HeartbeatIntervalMsFieldEvent | HeartbeatFirstTokenMsFieldEvent | HeartbeatHardwareBackendFieldEvent | HeartbeatHardwareGpuDevicesFieldEvent | HeartbeatHardwareVramBytesFieldEvent | HeartbeatHardwareThreadsFieldEvent | HeartbeatHardwareSequencesFieldEvent>;
}
export interface Hardware {
    backend: string;
    gpuDevices: string[];
    vramBytes: bigint;
    threads: number;
    sequences: number;
}
export declare namespace Hardware {
    const codec: () => Codec<Hardware>;
    interface HardwareBackendFieldEvent {
        field: '$.backend';
        value: string;
    }
    interface HardwareGpuDevicesFieldEvent {
        field: '$.gpuDevices[]';
        index: number;
        value: string;
    }
    interface HardwareVramBytesFieldEvent {
        field: '$.vramBytes';
        value: bigint;
    }
    interface HardwareThreadsFieldEvent {
        field: '$.threads';
        value: number;
    }
    interface HardwareSequencesFieldEvent {
        field: '$.sequences';
        value: number;
    }
    function encode(obj: Partial<Hardware>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hardware>): Hardware;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hardware>): Generator<HardwareBackendFieldEvent | HardwareGpuDevicesFieldEvent | HardwareVramBytesFieldEvent | HardwareThreadsFieldEvent | HardwareSequencesFieldEvent>;
}
