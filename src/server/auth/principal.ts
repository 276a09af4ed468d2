/**
 * Who the bearer token on an agent-facing request says the peer is. Decided
 * by `authenticateAgent` from the credential alone, never from anything the
 * peer says about itself.
 */
export type Principal =
  /** `tokenName`, `maxAgents`: for the reason given when the token cannot enroll another agent. */
  | { kind: 'enrollment'; tokenId: string; tokenName?: string; maxAgents?: number | null }
  /**
   * `authorization`: the header the agent authenticated with, offered back for package downloads.
   * `previousCredential`: it is the credential a rotation replaced, still in its grace window.
   * `clientCertificate`: the TLS client presented a certificate from the agent CA for this agent (mTLS), with or without a bearer.
   */
  | { kind: 'agent'; agentId: string; authorization?: string; previousCredential?: boolean; clientCertificate?: boolean };
