/**
 * How the Corral agent's own package travels over OpAMP.
 *
 * A deployment whose package is `kind: agent` is offered in
 * `ServerToAgent.packages_available` as the one top-level package
 * (`PackageType_TopLevel`). The OpAMP spec lets the only top-level package
 * have an empty name, and the key of both `PackagesAvailable.packages` and
 * `PackageStatuses.packages` is the package name, so the agent's own package
 * is keyed by `''`. Deployment packages (services) are reported in the same
 * `PackageStatuses` map under their deployment names, which are never empty.
 */
export const TOP_LEVEL_PACKAGE_NAME = '';
