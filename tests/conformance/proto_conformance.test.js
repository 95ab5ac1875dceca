'use strict';
// Compares every message, enum and service method defined in proto/ with the published Temporal
// API descriptor shipped in @temporalio/proto (version pinned in package-lock.json).
// Any drift — a name, field number, type, label, map key, oneof membership, enum value, or method
// request/response type — fails with a line naming the element.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const protobuf = require('protobufjs');
const published = require('@temporalio/proto/protos/json-module.js');

const protoDir = path.resolve(__dirname, '../../proto');

// Methods the project promises (issue: Foundation, item 3), so deleting one cannot pass silently.
const REQUIRED_METHODS = [
  'GetSystemInfo', 'DescribeNamespace', 'PollActivityTaskQueue',
  'RespondActivityTaskCompleted', 'RespondActivityTaskFailed', 'RespondActivityTaskCanceled',
  'RespondActivityTaskCompletedById', 'RespondActivityTaskFailedById',
  'RespondActivityTaskCanceledById', 'RecordActivityTaskHeartbeat',
  'RecordActivityTaskHeartbeatById', 'StartActivityExecution', 'DescribeActivityExecution',
  'PollActivityExecution', 'RequestCancelActivityExecution', 'TerminateActivityExecution',
  'ListActivityExecutions', 'CountActivityExecutions', 'DeleteActivityExecution',
  'DescribeTaskQueue', 'ShutdownWorker', 'UpdateWorkerBuildIdCompatibility',
  'GetWorkerBuildIdCompatibility', 'GetWorkerTaskReachability', 'PollNexusTaskQueue',
  'RecordWorkerHeartbeat', 'DescribeWorkerDeployment', 'ListWorkerDeployments',
  'SetWorkerDeploymentCurrentVersion', 'SetWorkerDeploymentRampingVersion',
];

function listProtoFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listProtoFiles(p));
    else if (entry.name.endsWith('.proto')) out.push(p);
  }
  return out.sort();
}

function loadOurs() {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (target.startsWith('google/protobuf/')) return target; // protobufjs ships these
    return path.isAbsolute(target) ? target : path.join(protoDir, target);
  };
  root.loadSync(listProtoFiles(path.join(protoDir, 'temporal')), { keepCase: true });
  root.resolveAll();
  return root;
}

// Fields deliberately left out, from the table in proto/README.md ("| message | field | reason |").
function loadOmissions() {
  const readme = fs.readFileSync(path.join(protoDir, 'README.md'), 'utf8');
  const section = readme.split('## Left out')[1] || '';
  const omitted = new Set();
  for (const line of section.split('\n')) {
    const m = line.match(/^\|\s*`?([\w.]+)`?\s*\|\s*`?(\w+)`?\s*\|/);
    if (m && m[1] !== 'message' && !/^-+$/.test(m[1])) omitted.add(`${m[1]}.${m[2]}`);
  }
  return omitted;
}

const camel = (s) => protobuf.util.camelCase(s);
const snake = (s) => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
const fullName = (obj) => obj.fullName.replace(/^\./, '');

function typeName(field) {
  return field.resolvedType ? fullName(field.resolvedType) : field.type;
}

function label(field) {
  if (field.map) return `map<${field.keyType}, ${typeName(field)}>`;
  if (field.repeated) return 'repeated';
  if (field.options && field.options.proto3_optional) return 'optional';
  return 'singular';
}

function oneofOf(field) {
  if (!field.partOf) return '-';
  if (field.partOf.name.startsWith('_') && field.options && field.options.proto3_optional) return '-';
  return camel(field.partOf.name);
}

function compareType(ours, theirs, omissions, problems) {
  const name = fullName(ours);
  const seen = new Set();
  for (const field of ours.fieldsArray) {
    const key = camel(field.name);
    seen.add(key);
    const pub = theirs.fields[key];
    const where = `${name}.${field.name} (#${field.id})`;
    if (!pub) {
      problems.push(`${where}: field not in the published ${name}`);
      continue;
    }
    pub.resolve();
    if (pub.id !== field.id) problems.push(`${where}: number is ${field.id}, published ${pub.id}`);
    if (typeName(pub) !== typeName(field)) {
      problems.push(`${where}: type is ${typeName(field)}, published ${typeName(pub)}`);
    }
    if (label(pub) !== label(field)) {
      problems.push(`${where}: label is ${label(field)}, published ${label(pub)}`);
    }
    if (oneofOf(pub) !== oneofOf(field)) {
      problems.push(`${where}: oneof is ${oneofOf(field)}, published ${oneofOf(pub)}`);
    }
  }
  for (const pub of theirs.fieldsArray) {
    if (seen.has(pub.name)) continue;
    const fieldName = snake(pub.name);
    if (omissions.has(`${name}.${fieldName}`)) continue;
    problems.push(`${name}.${fieldName} (#${pub.id}): published field missing here ` +
                  '(add it, or list it under "Left out" in proto/README.md with the reason)');
  }
}

function compareEnum(ours, theirs, problems) {
  const name = fullName(ours);
  for (const [value, number] of Object.entries(ours.values)) {
    if (!(value in theirs.values)) problems.push(`${name}.${value}: value not in the published enum`);
    else if (theirs.values[value] !== number) {
      problems.push(`${name}.${value}: number is ${number}, published ${theirs.values[value]}`);
    }
  }
  for (const [value, number] of Object.entries(theirs.values)) {
    if (!(value in ours.values)) problems.push(`${name}.${value} (= ${number}): published value missing here`);
  }
}

function compareService(ours, theirs, problems) {
  const name = fullName(ours);
  for (const method of ours.methodsArray) {
    const pub = theirs.methods[method.name];
    const where = `${name}.${method.name}`;
    if (!pub) {
      problems.push(`${where}: method not in the published service`);
      continue;
    }
    pub.resolve();
    method.resolve();
    const pairs = [
      ['request type', fullName(method.resolvedRequestType), fullName(pub.resolvedRequestType)],
      ['response type', fullName(method.resolvedResponseType), fullName(pub.resolvedResponseType)],
      ['request streaming', !!method.requestStream, !!pub.requestStream],
      ['response streaming', !!method.responseStream, !!pub.responseStream],
    ];
    for (const [what, mine, theirsValue] of pairs) {
      if (mine !== theirsValue) problems.push(`${where}: ${what} is ${mine}, published ${theirsValue}`);
    }
  }
}

// Every definition in our tree, depth first.
function* definitions(ns) {
  for (const child of ns.nestedArray || []) {
    if (child instanceof protobuf.Type || child instanceof protobuf.Enum ||
        child instanceof protobuf.Service) {
      yield child;
    }
    if (child.nestedArray) yield* definitions(child);
  }
}

function checkConformance(ours, omissions) {
  const problems = [];
  let count = 0;
  for (const def of definitions(ours.lookup('temporal'))) {
    count++;
    const name = fullName(def);
    const pub = published.lookup(name);
    const kind = def.constructor.name.toLowerCase();
    if (!pub) {
      problems.push(`${name}: ${kind} not in the published API`);
    } else if (pub.constructor !== def.constructor) {
      problems.push(`${name}: is a ${kind} here, a ${pub.constructor.name.toLowerCase()} published`);
    } else if (def instanceof protobuf.Type) {
      compareType(def, pub, omissions, problems);
    } else if (def instanceof protobuf.Enum) {
      compareEnum(def, pub, problems);
    } else {
      compareService(def, pub, problems);
    }
  }
  return { problems, count };
}

test('every definition in proto/ matches the published Temporal API', () => {
  const ours = loadOurs();
  const { problems, count } = checkConformance(ours, loadOmissions());
  assert.ok(count > 100, `expected the Temporal subset in proto/, found only ${count} definitions`);
  assert.deepStrictEqual(problems, [], `proto/ drifts from @temporalio/proto:\n  ${problems.join('\n  ')}`);
});

test('WorkflowService declares every method Kiln serves or calls', () => {
  const service = loadOurs().lookupService('temporal.api.workflowservice.v1.WorkflowService');
  const missing = REQUIRED_METHODS.filter((m) => !service.methods[m]);
  assert.deepStrictEqual(missing, [], `WorkflowService in proto/ lacks: ${missing.join(', ')}`);
});

test('every method in proto/ is in REQUIRED_METHODS, so the list stays complete', () => {
  // A method added to service.proto without being listed here could later be deleted unnoticed.
  const service = loadOurs().lookupService('temporal.api.workflowservice.v1.WorkflowService');
  const unlisted = Object.keys(service.methods).filter((m) => !REQUIRED_METHODS.includes(m));
  assert.deepStrictEqual(unlisted, [], `add to REQUIRED_METHODS: ${unlisted.join(', ')}`);
});

test('the checker itself catches a changed field number and type', () => {
  // Guards the guard: mutate a loaded copy and expect named complaints.
  const ours = loadOurs();
  const poll = ours.lookupType('temporal.api.workflowservice.v1.PollActivityTaskQueueRequest');
  poll.fields.identity.id = 99;
  const heartbeat = ours.lookupType('temporal.api.workflowservice.v1.RecordActivityTaskHeartbeatRequest');
  heartbeat.fields.identity.type = 'int64';
  heartbeat.fields.identity.resolvedType = null;
  const { problems } = checkConformance(ours, loadOmissions());
  assert.ok(problems.some((p) => p.includes('PollActivityTaskQueueRequest.identity (#99): number is 99')),
            problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('RecordActivityTaskHeartbeatRequest.identity') &&
                                 p.includes('type is int64, published string')), problems.join('\n'));
});
