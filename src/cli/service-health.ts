/**
 * A service's health as the CLI tables show it. A stopped service (desired
 * state "stopped", and stopped) has no health to show: "-", not "healthy"
 * (its agent reports it healthy, meaning converged, which is what rollouts
 * count).
 */
export function healthWord(service: { healthy: boolean; status?: string; state?: string }): string {
  if ((service.status ?? service.state) === 'stopped') return '-';
  return service.healthy ? 'healthy' : 'unhealthy';
}
