/**
 * Who the bearer token on an agent-facing request says the peer is. Decided
 * by `authenticateAgent` from the credential alone, never from anything the
 * peer says about itself.
 */
export type Principal =
  | { kind: 'enrollment'; tokenId: string }
  /**
   * `authorization`: the header the agent authenticated with, offered back for package downloads.
   * `previousCredential`: it is the credential a rotation replaced, still in its grace window.
   */
  | { kind: 'agent'; agentId: string; authorization?: string; previousCredential?: boolean };
