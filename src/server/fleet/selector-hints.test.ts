import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentRecord } from '../store/index.js';
import { parseSelector } from './selector.js';
import { selectorMismatches } from './selector-hints.js';

const agent = (labels: Record<string, string>, attrs: Record<string, string> = {}) =>
  ({ labels, identifyingAttributes: {}, nonIdentifyingAttributes: { 'os.type': 'linux', ...attrs } }) as unknown as AgentRecord;
const fleet = [agent({ env: 'prod', role: 'web' }), agent({ env: 'dev', role: 'api' }), agent({}, { 'corral.label.cluster': 'a' })];
const why = (s: string) => selectorMismatches(parseSelector(s), fleet);

describe('why a selector matches no agent', () => {
  it('names a key no agent has and suggests the close one', () => {
    assert.deepEqual(why('evn=prod'), ['no agent has the label "evn" (did you mean env?)']);
    assert.deepEqual(why('Role in (web)'), ['no agent has the label "Role" (did you mean role?)']);
    assert.deepEqual(why('clustr'), ['no agent has the label "clustr" (did you mean cluster?)']);
  });

  it('lists the label keys agents have when nothing is close', () => {
    assert.deepEqual(why('datacenter=eu'), ['no agent has the label "datacenter" (agents have the labels cluster, env, role)']);
  });

  it('names a value no agent has for a key, with the values there are', () => {
    assert.deepEqual(why('env=prdo'), ['no agent has env=prdo (its values: dev, prod)']);
    assert.deepEqual(why('role in (db,cache)'), ['no agent has role in (db,cache) (its values: api, web)']);
  });

  it('says nothing of negations, nor when only the combination matches nobody', () => {
    assert.deepEqual(why('!evn,tier!=db,zone notin (a)'), []);
    assert.deepEqual(why('env=dev,role=web'), []);
  });
});
