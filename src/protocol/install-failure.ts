/**
 * How a Corral agent reports a deployment change it could not install (an
 * archive entry refused at unpack, a missing template value, a template file
 * the package does not carry, a failing hook): as a child of the
 * deployment's component health, keyed `install`, with status
 * `failed:<revision>` and the agent's reason as last_error. The revision
 * lets the server tell a failure of the change it is rolling out from a
 * stale one about an earlier revision. Absent while the last change
 * installed.
 */
export const INSTALL_COMPONENT = 'install';

const PREFIX = 'failed:';

/** The child component's status word for a failed install of `revision` (0 when the spec carried none). */
export function installFailedStatus(revision: number | undefined): string {
  return `${PREFIX}${revision ?? 0}`;
}

/** The revision a child component's status says failed to install, or null when it says nothing of the kind. */
export function failedInstallRevision(status: string): number | null {
  if (!status.startsWith(PREFIX)) return null;
  const n = Number(status.slice(PREFIX.length));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
