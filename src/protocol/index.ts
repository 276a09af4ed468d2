/**
 * The protocol front door: OpAMP wire types generated from
 * `proto/*.proto` (see `npm run gen:proto`) and hand-written codecs.
 * Imports nothing else of Corral.
 */
export * from './gen/opamp_pb.js';
export * from './gen/anyvalue_pb.js';
export { create, fromBinary, toBinary } from '@bufbuild/protobuf';
export { FrameError, decodeWsFrame, encodeWsFrame } from './ws-frame.js';
export {
  AGENT_CAPABILITIES,
  AGENT_TO_SERVER_FLAGS,
  ProtocolError,
  SERVER_CAPABILITIES,
  SERVER_TO_AGENT_FLAGS,
  anyValueToJs,
  bitNames,
  decodeAgentToServer,
  decodeServerToAgent,
  encodeAgentToServer,
  encodeServerToAgent,
  hasBits,
  keyValuesToRecord,
  recordToKeyValues,
  uuidBytesToString,
  uuidStringToBytes,
} from './opamp.js';
export {
  AgentPackageManifestSchema,
  MANIFEST_API_VERSION,
  MANIFEST_FILE,
  ManifestError,
  PackageManifestSchema,
  parseAnyManifest,
  parseManifest,
  type AgentPackageManifest,
  type AnyPackageManifest,
  type PackageManifest,
} from './package-manifest.js';
export { TOP_LEVEL_PACKAGE_NAME } from './agent-package.js';
export {
  DEPLOYMENT_CONTENT_TYPE,
  DEPLOYMENT_FILE_PREFIX,
  DeploymentSpecSchema,
  SIGNING_CONNECTION,
  SIGNING_KEY_SETTING,
  artifactFor,
  deploymentFileName,
  type DeploymentArtifact,
  type DeploymentSpec,
  CORRAL_AGENT_SERVICE_NAME,
} from './deployment-spec.js';
export {
  SAMPLES_CAPABILITY,
  SAMPLES_TYPE,
  type ResourceSample,
  SERVICES_CAPABILITY,
  type ServiceDetail,
  EXEC_CAPABILITY,
  MAX_EXEC_OUTPUT_BYTES,
  PROGRESS_TYPE,
  type ExecProgress,
  type ExecRequest,
  type ExecResult,
  LOGS_CAPABILITY,
  MAX_LOG_CHUNK_BYTES,
  REPLY_TYPE,
  REQUEST_TYPE,
  RESTART_CAPABILITY,
  decodeJsonObject,
  encodeJson,
  type LogsRequest,
  type LogsResult,
  LOG_FOLLOW_END_REASONS,
  LogChunkSchema,
  LogsCancelRequestSchema,
  LogsFollowProgressSchema,
  LogsFollowRequestSchema,
  MAX_LOG_FOLLOW_CHUNKS,
  MAX_LOG_FOLLOW_CHUNK_CHARS,
  MAX_LOG_FOLLOW_MS,
  type LogChunk,
  type LogFollowEndReason,
  type LogsCancelRequest,
  type LogsFollowProgress,
  type LogsFollowRequest,
  type Reply,
  type RestartRequest,
} from './custom-messages.js';
export { INSTALL_COMPONENT, failedInstallRevision, installFailedStatus } from './install-failure.js';
export { missingPackageFiles, packagePath, type PackageEntryKind } from './package-contents.js';
export { TemplateError, renderTemplate, templateKeys } from './template.js';
export { healthValuesProblem, renderHealthCheck, type HealthCheckSpec, type RenderedHealthCheck } from './health-values.js';
export { MANIFEST_SCHEMA_ID, manifestJsonSchema } from './manifest-schema.js';
export {
  DEFAULT_PACKAGE_ENTRY_LIMITS,
  UnsafePackageEntryError,
  checkPackageEntries,
  type PackageEntryHeader,
  type PackageEntryLimits,
} from './package-entries.js';
export {
  PUBLISHER_SIGNATURE_HEADER,
  PUBLISHER_SIGNATURE_SUFFIX,
  PublisherKeyError,
  publisherPublicKey,
  publisherSigned,
  signDigestWith,
} from './publisher-signature.js';
export {
  ResourcesError,
  ResourcesSchema,
  compileResources,
  describeResources,
  effectiveResources,
  formatBytes,
  hasLimits,
  parseCpu,
  parseSize,
  type CompiledResources,
  type Resources,
} from './resources.js';
// The REST API's types, generated from the server's OpenAPI document (npm run gen:api-types).
export type { components as RestApiComponents, paths as RestApiPaths } from './gen/openapi.js';
