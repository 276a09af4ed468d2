/** `npm run bench -- <name> [flags]`: benchmarks that print figures. */
import { fleetBench } from './fleet.js';
import { restartLatencyBench } from './restart-latency.js';
import { agentFootprintBench } from './agent-footprint.js';
import { rolloutBench } from './rollout.js';
import { opampBodiesBench } from './opamp-bodies.js';
import { consoleFleetBench } from './console-fleet.js';
import { agentListBench } from './agent-list.js';
import { jobListBench } from './job-list.js';
import { eventsBench } from './events.js';
import { forgetOfflineBench } from './forget-offline.js';
import { tokenCreateBench } from './token-create.js';

const benches: Record<string, (argv: string[]) => Promise<void>> = { fleet: fleetBench, 'restart-latency': restartLatencyBench, 'agent-footprint': agentFootprintBench, rollout: rolloutBench, 'opamp-bodies': opampBodiesBench, 'agent-list': agentListBench, 'job-list': jobListBench, events: eventsBench, 'console-fleet': consoleFleetBench, 'forget-offline': forgetOfflineBench, 'token-create': tokenCreateBench };
const [name, ...rest] = process.argv.slice(2);
const run = name ? benches[name] : undefined;
if (!run) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [flags]`);
  process.exit(2);
}
run(rest).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
