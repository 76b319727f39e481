// Generated from task.proto by protons, compiled by tsc (test/protocols/codegen.ts). Do not edit.
import type { Codec, DecodeOptions } from 'protons-runtime';
import type { Uint8ArrayList } from 'uint8arraylist';
export interface TaskParams {
    modelId: string;
    maxTokens: number;
    temperature: number;
    topP: number;
    topK: number;
    seed: bigint;
    stop: string[];
}
export declare namespace TaskParams {
    const codec: () => Codec<TaskParams>;
    interface TaskParamsModelIdFieldEvent {
        field: '$.modelId';
        value: string;
    }
    interface TaskParamsMaxTokensFieldEvent {
        field: '$.maxTokens';
        value: number;
    }
    interface TaskParamsTemperatureFieldEvent {
        field: '$.temperature';
        value: number;
    }
    interface TaskParamsTopPFieldEvent {
        field: '$.topP';
        value: number;
    }
    interface TaskParamsTopKFieldEvent {
        field: '$.topK';
        value: number;
    }
    interface TaskParamsSeedFieldEvent {
        field: '$.seed';
        value: bigint;
    }
    interface TaskParamsStopFieldEvent {
        field: '$.stop[]';
        index: number;
        value: string;
    }
    function encode(obj: Partial<TaskParams>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskParams>): TaskParams;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskParams>): Generator<TaskParamsModelIdFieldEvent | TaskParamsMaxTokensFieldEvent | TaskParamsTemperatureFieldEvent | TaskParamsTopPFieldEvent | TaskParamsTopKFieldEvent | TaskParamsSeedFieldEvent | TaskParamsStopFieldEvent>;
}
export interface TaskQueued {
    sessionId: bigint;
    taskId: bigint;
    promptCid: Uint8Array<ArrayBuffer>;
    params?: TaskParams;
    submitter: Uint8Array<ArrayBuffer>;
    deadlineMs: bigint;
    redundancy: number;
    promptBlock?: Uint8Array<ArrayBuffer>;
    seed?: Uint8Array<ArrayBuffer>;
}
export declare namespace TaskQueued {
    const codec: () => Codec<TaskQueued>;
    interface TaskQueuedSessionIdFieldEvent {
        field: '$.sessionId';
        value: bigint;
    }
    interface TaskQueuedTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface TaskQueuedPromptCidFieldEvent {
        field: '$.promptCid';
        value: Uint8Array<ArrayBuffer>;
    }
    interface TaskQueuedParamsModelIdFieldEvent {
        field: '$.params.modelId';
        value: string;
    }
    interface TaskQueuedParamsMaxTokensFieldEvent {
        field: '$.params.maxTokens';
        value: number;
    }
    interface TaskQueuedParamsTemperatureFieldEvent {
        field: '$.params.temperature';
        value: number;
    }
    interface TaskQueuedParamsTopPFieldEvent {
        field: '$.params.topP';
        value: number;
    }
    interface TaskQueuedParamsTopKFieldEvent {
        field: '$.params.topK';
        value: number;
    }
    interface TaskQueuedParamsSeedFieldEvent {
        field: '$.params.seed';
        value: bigint;
    }
    interface TaskQueuedParamsStopFieldEvent {
        field: '$.params.stop[]';
        index: number;
        value: string;
    }
    interface TaskQueuedSubmitterFieldEvent {
        field: '$.submitter';
        value: Uint8Array<ArrayBuffer>;
    }
    interface TaskQueuedDeadlineMsFieldEvent {
        field: '$.deadlineMs';
        value: bigint;
    }
    interface TaskQueuedRedundancyFieldEvent {
        field: '$.redundancy';
        value: number;
    }
    interface TaskQueuedPromptBlockFieldEvent {
        field: '$.promptBlock';
        value: Uint8Array<ArrayBuffer>;
    }
    interface TaskQueuedSeedFieldEvent {
        field: '$.seed';
        value: Uint8Array<ArrayBuffer>;
    }
    function encode(obj: Partial<TaskQueued>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskQueued>): TaskQueued;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TaskQueued>): Generator<TaskQueuedSessionIdFieldEvent | TaskQueuedTaskIdFieldEvent | TaskQueuedPromptCidFieldEvent | TaskQueuedParamsModelIdFieldEvent | TaskQueuedParamsMaxTokensFieldEvent | TaskQueuedParamsTemperatureFieldEvent | TaskQueuedParamsTopPFieldEvent | TaskQueuedParamsTopKFieldEvent | TaskQueuedParamsSeedFieldEvent | TaskQueuedParamsStopFieldEvent | TaskQueuedSubmitterFieldEvent | TaskQueuedDeadlineMsFieldEvent | TaskQueuedRedundancyFieldEvent | TaskQueuedPromptBlockFieldEvent | TaskQueuedSeedFieldEvent>;
}
export interface Assignment {
    taskId: bigint;
    miners: Uint8Array<ArrayBuffer>[];
    selectionSeed: Uint8Array<ArrayBuffer>;
    leader: Uint8Array<ArrayBuffer>;
    round: number;
    signature: Uint8Array<ArrayBuffer>;
    sessionId: bigint;
    promptDigest?: Uint8Array<ArrayBuffer>;
    paramsDigest?: Uint8Array<ArrayBuffer>;
    replaced: Uint8Array<ArrayBuffer>[];
    announcement?: Uint8Array<ArrayBuffer>;
}
export declare namespace Assignment {
    const codec: () => Codec<Assignment>;
    interface AssignmentTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface AssignmentMinersFieldEvent {
        field: '$.miners[]';
        index: number;
        value: Uint8Array<ArrayBuffer>;
    }
    interface AssignmentSelectionSeedFieldEvent {
        field: '$.selectionSeed';
        value: Uint8Array<ArrayBuffer>;
    }
    interface AssignmentLeaderFieldEvent {
        field: '$.leader';
        value: Uint8Array<ArrayBuffer>;
    }
    interface AssignmentRoundFieldEvent {
        field: '$.round';
        value: number;
    }
    interface AssignmentSignatureFieldEvent {
        field: '$.signature';
        value: Uint8Array<ArrayBuffer>;
    }
    interface AssignmentSessionIdFieldEvent {
        field: '$.sessionId';
        value: bigint;
    }
    interface AssignmentPromptDigestFieldEvent {
        field: '$.promptDigest';
        value: Uint8Array<ArrayBuffer>;
    }
    interface AssignmentParamsDigestFieldEvent {
        field: '$.paramsDigest';
        value: Uint8Array<ArrayBuffer>;
    }
    interface AssignmentReplacedFieldEvent {
        field: '$.replaced[]';
        index: number;
        value: Uint8Array<ArrayBuffer>;
    }
    interface AssignmentAnnouncementFieldEvent {
        field: '$.announcement';
        value: Uint8Array<ArrayBuffer>;
    }
    function encode(obj: Partial<Assignment>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Assignment>): Assignment;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Assignment>): Generator<AssignmentTaskIdFieldEvent | AssignmentMinersFieldEvent | AssignmentSelectionSeedFieldEvent | AssignmentLeaderFieldEvent | AssignmentRoundFieldEvent | AssignmentSignatureFieldEvent | AssignmentSessionIdFieldEvent | AssignmentPromptDigestFieldEvent | AssignmentParamsDigestFieldEvent | AssignmentReplacedFieldEvent | AssignmentAnnouncementFieldEvent>;
}
export interface Ack {
    taskId: bigint;
    miner: Uint8Array<ArrayBuffer>;
    round: number;
}
export declare namespace Ack {
    const codec: () => Codec<Ack>;
    interface AckTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface AckMinerFieldEvent {
        field: '$.miner';
        value: Uint8Array<ArrayBuffer>;
    }
    interface AckRoundFieldEvent {
        field: '$.round';
        value: number;
    }
    function encode(obj: Partial<Ack>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Ack;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Generator<AckTaskIdFieldEvent | AckMinerFieldEvent | AckRoundFieldEvent>;
}
export interface Precommit {
    taskId: bigint;
    miner: Uint8Array<ArrayBuffer>;
    commitment: Uint8Array<ArrayBuffer>;
    signature: Uint8Array<ArrayBuffer>;
}
export declare namespace Precommit {
    const codec: () => Codec<Precommit>;
    interface PrecommitTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface PrecommitMinerFieldEvent {
        field: '$.miner';
        value: Uint8Array<ArrayBuffer>;
    }
    interface PrecommitCommitmentFieldEvent {
        field: '$.commitment';
        value: Uint8Array<ArrayBuffer>;
    }
    interface PrecommitSignatureFieldEvent {
        field: '$.signature';
        value: Uint8Array<ArrayBuffer>;
    }
    function encode(obj: Partial<Precommit>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Precommit>): Precommit;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Precommit>): Generator<PrecommitTaskIdFieldEvent | PrecommitMinerFieldEvent | PrecommitCommitmentFieldEvent | PrecommitSignatureFieldEvent>;
}
export interface Reveal {
    taskId: bigint;
    miner: Uint8Array<ArrayBuffer>;
    outputCid: Uint8Array<ArrayBuffer>;
    salt: Uint8Array<ArrayBuffer>;
    signature?: Uint8Array<ArrayBuffer>;
}
export declare namespace Reveal {
    const codec: () => Codec<Reveal>;
    interface RevealTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface RevealMinerFieldEvent {
        field: '$.miner';
        value: Uint8Array<ArrayBuffer>;
    }
    interface RevealOutputCidFieldEvent {
        field: '$.outputCid';
        value: Uint8Array<ArrayBuffer>;
    }
    interface RevealSaltFieldEvent {
        field: '$.salt';
        value: Uint8Array<ArrayBuffer>;
    }
    interface RevealSignatureFieldEvent {
        field: '$.signature';
        value: Uint8Array<ArrayBuffer>;
    }
    function encode(obj: Partial<Reveal>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reveal>): Reveal;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reveal>): Generator<RevealTaskIdFieldEvent | RevealMinerFieldEvent | RevealOutputCidFieldEvent | RevealSaltFieldEvent | RevealSignatureFieldEvent>;
}
export interface MinerVerdict {
    miner: Uint8Array<ArrayBuffer>;
    outcome: MinerVerdict.Outcome;
    similarityPpm: number;
    replaySignature?: Uint8Array<ArrayBuffer>;
    deliveredTokens?: number;
    deliveredMs?: number;
    firstTokenMs?: number;
}
export declare namespace MinerVerdict {
    enum Outcome {
        ACCEPTED = "ACCEPTED",
        REJECTED_STRUCTURAL = "REJECTED_STRUCTURAL",
        REJECTED_REPLAY = "REJECTED_REPLAY",
        OUTLIER = "OUTLIER",
        MISSING = "MISSING",
        REVEAL_MISMATCH = "REVEAL_MISMATCH",
        UNVERIFIABLE = "UNVERIFIABLE"
    }
    namespace Outcome {
        const codec: () => Codec<Outcome>;
    }
    const codec: () => Codec<MinerVerdict>;
    interface MinerVerdictMinerFieldEvent {
        field: '$.miner';
        value: Uint8Array<ArrayBuffer>;
    }
    interface MinerVerdictOutcomeFieldEvent {
        field: '$.outcome';
        value: MinerVerdict.Outcome;
    }
    interface MinerVerdictSimilarityPpmFieldEvent {
        field: '$.similarityPpm';
        value: number;
    }
    interface MinerVerdictReplaySignatureFieldEvent {
        field: '$.replaySignature';
        value: Uint8Array<ArrayBuffer>;
    }
    interface MinerVerdictDeliveredTokensFieldEvent {
        field: '$.deliveredTokens';
        value: number;
    }
    interface MinerVerdictDeliveredMsFieldEvent {
        field: '$.deliveredMs';
        value: number;
    }
    interface MinerVerdictFirstTokenMsFieldEvent {
        field: '$.firstTokenMs';
        value: number;
    }
    function encode(obj: Partial<MinerVerdict>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MinerVerdict>): MinerVerdict;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MinerVerdict>): Generator<MinerVerdictMinerFieldEvent | MinerVerdictOutcomeFieldEvent | MinerVerdictSimilarityPpmFieldEvent | MinerVerdictReplaySignatureFieldEvent | MinerVerdictDeliveredTokensFieldEvent | MinerVerdictDeliveredMsFieldEvent | MinerVerdictFirstTokenMsFieldEvent>;
}
export interface Verdict {
    taskId: bigint;
    oracle: Uint8Array<ArrayBuffer>;
    miners: MinerVerdict[];
    round: number;
    signature: Uint8Array<ArrayBuffer>;
}
export declare namespace Verdict {
    const codec: () => Codec<Verdict>;
    interface VerdictTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface VerdictOracleFieldEvent {
        field: '$.oracle';
        value: Uint8Array<ArrayBuffer>;
    }
    interface VerdictMinersMinerFieldEvent {
        field: '$.miners[].miner';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface VerdictMinersOutcomeFieldEvent {
        field: '$.miners[].outcome';
        value: MinerVerdict.Outcome;
        index: number;
    }
    interface VerdictMinersSimilarityPpmFieldEvent {
        field: '$.miners[].similarityPpm';
        value: number;
        index: number;
    }
    interface VerdictMinersReplaySignatureFieldEvent {
        field: '$.miners[].replaySignature';
        value: Uint8Array<ArrayBuffer>;
        index: number;
    }
    interface VerdictMinersDeliveredTokensFieldEvent {
        field: '$.miners[].deliveredTokens';
        value: number;
        index: number;
    }
    interface VerdictMinersDeliveredMsFieldEvent {
        field: '$.miners[].deliveredMs';
        value: number;
        index: number;
    }
    interface VerdictMinersFirstTokenMsFieldEvent {
        field: '$.miners[].firstTokenMs';
        value: number;
        index: number;
    }
    interface VerdictRoundFieldEvent {
        field: '$.round';
        value: number;
    }
    interface VerdictSignatureFieldEvent {
        field: '$.signature';
        value: Uint8Array<ArrayBuffer>;
    }
    function encode(obj: Partial<Verdict>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Verdict>): Verdict;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Verdict>): Generator<VerdictTaskIdFieldEvent | VerdictOracleFieldEvent | VerdictMinersMinerFieldEvent | VerdictMinersOutcomeFieldEvent | VerdictMinersSimilarityPpmFieldEvent | VerdictMinersReplaySignatureFieldEvent | VerdictMinersDeliveredTokensFieldEvent | VerdictMinersDeliveredMsFieldEvent | VerdictMinersFirstTokenMsFieldEvent | VerdictRoundFieldEvent | VerdictSignatureFieldEvent>;
}
export interface Decline {
    taskId: bigint;
    miner: Uint8Array<ArrayBuffer>;
    round: number;
    reason: Decline.Reason;
    message: string;
    promptTokens: number;
    contextTokens: number;
}
export declare namespace Decline {
    enum Reason {
        CONTEXT_OVERFLOW = "CONTEXT_OVERFLOW",
        INVALID_PARAMS = "INVALID_PARAMS"
    }
    namespace Reason {
        const codec: () => Codec<Reason>;
    }
    const codec: () => Codec<Decline>;
    interface DeclineTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface DeclineMinerFieldEvent {
        field: '$.miner';
        value: Uint8Array<ArrayBuffer>;
    }
    interface DeclineRoundFieldEvent {
        field: '$.round';
        value: number;
    }
    interface DeclineReasonFieldEvent {
        field: '$.reason';
        value: Decline.Reason;
    }
    interface DeclineMessageFieldEvent {
        field: '$.message';
        value: string;
    }
    interface DeclinePromptTokensFieldEvent {
        field: '$.promptTokens';
        value: number;
    }
    interface DeclineContextTokensFieldEvent {
        field: '$.contextTokens';
        value: number;
    }
    function encode(obj: Partial<Decline>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Decline>): Decline;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Decline>): Generator<DeclineTaskIdFieldEvent | DeclineMinerFieldEvent | DeclineRoundFieldEvent | DeclineReasonFieldEvent | DeclineMessageFieldEvent | DeclinePromptTokensFieldEvent | DeclineContextTokensFieldEvent>;
}
export interface FirstTokenReport {
    taskId: bigint;
    sessionId: bigint;
    submitter: Uint8Array<ArrayBuffer>;
    miner: Uint8Array<ArrayBuffer>;
    firstTokenMs: number;
}
export declare namespace FirstTokenReport {
    const codec: () => Codec<FirstTokenReport>;
    interface FirstTokenReportTaskIdFieldEvent {
        field: '$.taskId';
        value: bigint;
    }
    interface FirstTokenReportSessionIdFieldEvent {
        field: '$.sessionId';
        value: bigint;
    }
    interface FirstTokenReportSubmitterFieldEvent {
        field: '$.submitter';
        value: Uint8Array<ArrayBuffer>;
    }
    interface FirstTokenReportMinerFieldEvent {
        field: '$.miner';
        value: Uint8Array<ArrayBuffer>;
    }
    interface FirstTokenReportFirstTokenMsFieldEvent {
        field: '$.firstTokenMs';
        value: number;
    }
    function encode(obj: Partial<FirstTokenReport>): Uint8Array<ArrayBuffer>;
    function decode(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FirstTokenReport>): FirstTokenReport;
    function stream(buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FirstTokenReport>): Generator<FirstTokenReportTaskIdFieldEvent | FirstTokenReportSessionIdFieldEvent | FirstTokenReportSubmitterFieldEvent | FirstTokenReportMinerFieldEvent | FirstTokenReportFirstTokenMsFieldEvent>;
}
