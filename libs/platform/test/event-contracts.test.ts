/**
 * `specs/events/asyncapi.yaml` is what other teams build their consumers on; the zod contracts are what the
 * services actually publish and accept. These stories hold the two together: the document is valid AsyncAPI,
 * documents exactly the contracted events, says of each what its contract says, and its examples are events
 * the contracts accept.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type AsyncAPIDocumentInterface, DiagnosticSeverity, type MessageInterface, Parser } from '@asyncapi/parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { v7 as uuidv7 } from 'uuid';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ContractViolation,
  cloudEventSchema,
  type EventData,
  type EventType,
  eventContracts,
  eventSubject,
  parseEvent,
} from '../src/events/contracts.ts';

const specPath = fileURLToPath(new URL('../../../specs/events/asyncapi.yaml', import.meta.url));

type Json = Record<string, unknown>;

const eventTypes = Object.keys(eventContracts) as EventType[];

// ajv-formats is CommonJS: under NodeNext its default export is `module.exports`, whose `default` is the plugin.
const addFormats = addFormatsModule.default;
const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
// The parser marks every schema it has seen with this annotation; it constrains nothing.
ajv.addKeyword({ keyword: 'x-parser-schema-id', schemaType: 'string' });
addFormats(ajv);

/** The event as a producer would publish it: the envelope attributes the design fixes, and `data`. */
function cloudEvent<T extends EventType>(type: T, data: EventData<T>): Json {
  const subjectOf = eventSubject[type] as (data: EventData<T>) => string;
  return {
    specversion: '1.0',
    id: uuidv7(),
    source: type.startsWith('auth.') ? 'todo-platform/auth' : 'todo-platform/todo',
    type,
    subject: subjectOf(data),
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}

const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** One realistic event of each type, about one user and one of her todos. */
function sampleEvents(): Record<EventType, Json> {
  const userId = uuidv7();
  const sessionId = uuidv7();
  const todoId = uuidv7();
  const createdAt = new Date('2026-03-14T09:30:12.120Z');
  const inFifteenMinutes = epochSeconds(new Date()) + 15 * 60;
  const todo = {
    id: todoId,
    title: 'Water the plants',
    description: null,
    done: false,
    dueAt: '2027-01-15T09:00:00Z',
    createdAt: createdAt.toISOString(),
    updatedAt: createdAt.toISOString(),
    version: 1,
  };
  return {
    'auth.user.registered': cloudEvent('auth.user.registered', {
      userId,
      email: 'ann@example.com',
      createdAt: createdAt.toISOString(),
    }),
    'auth.session.revoked': cloudEvent('auth.session.revoked', {
      sessionId,
      userId,
      reason: 'refresh_token_reuse',
      tokensExpireBy: inFifteenMinutes,
    }),
    'auth.user.deleted': cloudEvent('auth.user.deleted', {
      userId,
      deletedAt: epochSeconds(new Date()),
      tokensExpireBy: inFifteenMinutes,
    }),
    'auth.user.email_verified': cloudEvent('auth.user.email_verified', {
      userId,
      verifiedAt: new Date().toISOString(),
    }),
    'todo.created': cloudEvent('todo.created', { ownerId: userId, todoId, version: 1, todo }),
    'todo.updated': cloudEvent('todo.updated', {
      ownerId: userId,
      todoId,
      version: 2,
      todo: {
        ...todo,
        description: 'The ones on the balcony too',
        done: true,
        dueAt: null,
        updatedAt: '2026-03-15T08:05:40+02:00',
        version: 2,
      },
    }),
    'todo.deleted': cloudEvent('todo.deleted', {
      ownerId: userId,
      todoId,
      version: 3,
      reason: 'owner_deleted',
    }),
  };
}

/** Copies of `event`, each without one required member of its data (or of the todo inside it). */
function eventsMissingAMember(event: Json): { path: string; event: Json }[] {
  const data = event.data as Json;
  const withoutData = Object.keys(data).map((key) => {
    const { [key]: _, ...rest } = data;
    return { path: `data.${key}`, event: { ...event, data: rest } };
  });
  const todo = data.todo as Json | undefined;
  const withoutTodo = Object.keys(todo ?? {}).map((key) => {
    const { [key]: _, ...rest } = todo ?? {};
    return { path: `data.todo.${key}`, event: { ...event, data: { ...data, todo: rest } } };
  });
  return [...withoutData, ...withoutTodo];
}

/**
 * What a schema constrains, as comparable data. Left out: annotations (descriptions, examples, the
 * parser's ids) and zod's `pattern`s, which only spell out the `format` next to them; zod's ±2^53-1 bounds,
 * which say "a JavaScript-safe integer". Nullable is `anyOf: [X, {type: null}]` in zod's output and
 * `type: [X, 'null']` in the document; both become the latter.
 */
function constraints(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const { anyOf } = schema as Json;
  if (Array.isArray(anyOf) && anyOf.length === 2 && anyOf.some((s) => (s as Json).type === 'null')) {
    const inner = constraints(anyOf.find((s) => (s as Json).type !== 'null')) as Json;
    return { ...inner, type: [...(inner.type as string[]), 'null'].sort() };
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (['description', 'title', 'examples', '$schema', 'pattern'].includes(key) || key.startsWith('x-')) continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'type') out.type = [value].flat().sort();
    else if (key === 'required' || key === 'enum') out[key] = [...(value as unknown[])].sort();
    else if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value as Json).map(([name, s]) => [name, constraints(s)]));
    } else out[key] = constraints(value);
  }
  return out;
}

const jsonSchemaOf = (schema: z.ZodType): Json => z.toJSONSchema(schema, { io: 'input' }) as Json;

const withoutProperties = (schema: Json, names: string[]): Json => ({
  ...schema,
  properties: Object.fromEntries(Object.entries(schema.properties as Json).filter(([name]) => !names.includes(name))),
});

describe('the AsyncAPI document of the events (specs/events/asyncapi.yaml)', () => {
  let document: AsyncAPIDocumentInterface;
  const messageOf = (type: EventType): MessageInterface => {
    const channels = document.channels().all();
    const channel = channels.find((c) => c.address() === type);
    if (!channel) throw new Error(`no channel has the address ${type}`);
    const [message, ...others] = channel.messages().all();
    if (!message || others.length > 0) throw new Error(`channel ${channel.id()} must carry exactly one message`);
    return message;
  };
  const payloadSchemaOf = (type: EventType): Json => messageOf(type).payload()?.json() as Json;

  beforeAll(async () => {
    const parsed = await new Parser().parse(readFileSync(specPath, 'utf8'));
    const errors = parsed.diagnostics
      .filter((d) => d.severity === DiagnosticSeverity.Error)
      .map((d) => `${d.code} at ${d.path.join('.') || '(root)'}: ${d.message}`);
    expect(errors, `the document has errors:\n${errors.join('\n')}`).toEqual([]);
    if (!parsed.document) throw new Error('the parser returned no document');
    document = parsed.document;
  });

  it('is a valid AsyncAPI 3.0.0 document about NATS', () => {
    const servers = document.servers().all();
    expect(document.version()).toBe('3.0.0');
    expect(servers.map((s) => s.protocol())).toEqual(['nats']);
  });

  it('when a contract exists for an event type, a channel at that subject carries its message', () => {
    for (const type of eventTypes) {
      const message = messageOf(type);
      expect(message.name(), type).toBe(type);
      expect(message.contentType(), type).toBe('application/cloudevents+json');
      expect((payloadSchemaOf(type).properties as Json).type, type).toMatchObject({ const: type });
    }
  });

  it('when the document shows a channel, message or operation, a contract backs it', () => {
    const types = [...eventTypes].sort();
    const channels = document.channels().all();
    const messages = document.messages().all();
    expect(channels.map((c) => c.address()).sort()).toEqual(types);
    expect(messages.map((m) => m.name()).sort()).toEqual(types);
    // No component message is left over that no channel carries.
    const carried = new Set(channels.flatMap((c) => c.messages().all()).map((m) => m.id()));
    for (const message of document.components().messages().all()) expect(carried, message.id()).toContain(message.id());

    const operations = document.operations().all();
    expect(operations).toHaveLength(eventTypes.length);
    for (const operation of operations) {
      const [channel, ...others] = operation.channels().all();
      expect(operation.action(), operation.id()).toBe('send');
      expect(others, operation.id()).toEqual([]);
      expect(eventTypes, operation.id()).toContain(channel?.address());
    }
  });

  it('says of every member what the zod contract says: required or not, type, format, enum, minimum, null', () => {
    const envelope = withoutProperties(jsonSchemaOf(cloudEventSchema), ['type', 'data']);
    for (const type of eventTypes) {
      const payload = payloadSchemaOf(type);
      expect(constraints((payload.properties as Json).data), type).toEqual(
        constraints(jsonSchemaOf(eventContracts[type])),
      );
      // `type` is pinned per message (parseEvent refuses any other) and `data` is compared above.
      expect(constraints(withoutProperties(payload, ['type', 'data'])), type).toEqual(constraints(envelope));
    }
  });

  describe.each(eventTypes)('%s', (type) => {
    it('a realistic event passes the zod contract and the documented schema', () => {
      const event = sampleEvents()[type];
      const validate = ajv.compile(payloadSchemaOf(type));
      expect(() => parseEvent(type, event)).not.toThrow();
      expect(validate(event), ajv.errorsText(validate.errors)).toBe(true);
    });

    it('an event missing a required data member is refused by both', () => {
      const validate = ajv.compile(payloadSchemaOf(type));
      const broken = eventsMissingAMember(sampleEvents()[type]);
      expect(broken.length).toBeGreaterThan(0);
      for (const { path, event } of broken) {
        expect(() => parseEvent(type, event), `zod, without ${path}`).toThrow(ContractViolation);
        expect(validate(event), `AsyncAPI, without ${path}`).toBe(false);
      }
    });

    it('the documented examples are events the contract accepts, about their entity, with the id as Nats-Msg-Id', () => {
      const message = messageOf(type);
      const examples = message.examples().all();
      expect(examples.length).toBeGreaterThan(0);
      const validateHeaders = ajv.compile(message.headers()?.json() as Json);
      for (const example of examples) {
        const payload = example.payload() as Json;
        const event = parseEvent(type, payload);
        expect(event.subject, example.name()).toBe((eventSubject[type] as (data: unknown) => string)(event.data));
        expect(ajv.validate(payloadSchemaOf(type), payload), ajv.errorsText()).toBe(true);
        expect(validateHeaders(example.headers()), ajv.errorsText(validateHeaders.errors)).toBe(true);
        expect(example.headers()?.['Nats-Msg-Id'], example.name()).toBe(payload.id);
      }
    });
  });
});
