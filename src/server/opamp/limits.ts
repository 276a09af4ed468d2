/** OpAMP transport limits. */

/** The spec's maximum message size. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';
