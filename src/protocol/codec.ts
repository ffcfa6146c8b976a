/**
 * The restricted value codec: superjson on a dedicated instance, behind an allow-list.
 *
 * Payload text is `JSON` or `JSON \n META` (META is superjson's meta object). Decoding order, each step
 * bounded: JSON.parse (input already capped by the frame size) -> structural limits on the JSON ->
 * META validated against the JSON and the allow-list -> only then superjson rebuilds the values.
 * Values that need no annotation skip superjson entirely in both directions (the fast path).
 */
import { SuperJSON } from 'superjson';
import { ErrorCode, PayloadError, UplinkError } from './errors.js';
import { badFrame } from './frames.js';
import { checkJsonLimits, defaultCodecLimits, limitExceeded, type CodecLimits } from './limits.js';
import { checkRefNode, type RefKind, type RefNode, type RefScope } from './refs.js';
import { checkPrefixFree, child, parseMetaPath } from './meta-paths.js';
import { PlainJson, plainJsonKind, stringifyPlain } from './plain-json.js';

export { parseMetaPath };

/** Size of an encoded payload: characters of text plus attachment bytes (O(1) per attachment, no UTF-8 scan). */
export function payloadSize(payload: EncodedPayload): number {
  let size = payload.text.length;
  if (payload.attachments) for (const a of payload.attachments) size += a.byteLength;
  return size;
}

/** An encoded value as it travels: forwarded as-is by the gateway, decoded only by its final reader. */
export interface EncodedPayload {
  text: string;
  attachments?: Uint8Array[] | undefined;
}

/** Encodes and decodes payloads: a Codec, or a codec bound to a connection's references. */
export interface PayloadCoder {
  encode(value: unknown): EncodedPayload;
  decode(payload: EncodedPayload): unknown;
}

export interface CodecOptions {
  limits?: Partial<CodecLimits>;
  /** Accept RegExp values from peers. Off by default: an attacker's pattern can backtrack forever. */
  allowRegExp?: boolean;
}

type Ctor<T = object> = abstract new (...args: never[]) => T;

const SIMPLE_TYPES = new Set(['undefined', 'bigint', 'Date', 'URL', 'number', 'map', 'set', 'Error']);
const SPECIAL_NUMBERS = new Set(['NaN', 'Infinity', '-Infinity', '-0']);
const MAX_SHORT_STRING = 2_048;
const BIN = 'bin';
const BIN_ARRAY_BUFFER = 'binab';
const REF_KINDS: readonly RefKind[] = ['cref', 'sref'];
/** A payload without attachments (shared: decode only reads it). */
const NO_ATTACHMENTS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** What meta validation carries along: annotations left, attachments in the frame, whether references may appear. */
interface Budget { left: number; attachmentCount: number; refs: boolean }

/**
 * Attachments of the frame being encoded or decoded. superjson transformers cannot take a context
 * argument; encode and decode are synchronous, so one slot per codec instance is race-free.
 */
interface AttachmentSlot { list: Uint8Array[] }

/**
 * Error data that is already encoded (by an object host in another process, with the same codec
 * settings): the gateway forwards it as it is instead of decoding and encoding it again.
 */
export class EncodedData {
  constructor(readonly payload: EncodedPayload) {}
}

export class Codec {
  readonly limits: Readonly<CodecLimits>;
  private readonly sj = new SuperJSON({ dedupe: false });
  private readonly allowRegExp: boolean;
  private readonly classNames = new Map<string, Ctor>();
  private readonly errorClasses = new Map<string, Ctor<Error>>();
  private slot: AttachmentSlot = { list: [] };
  /** The reference scope of the payload being encoded or decoded (same one-slot reasoning as attachments). */
  private refs: RefScope | undefined;

  constructor(options: CodecOptions = {}) {
    this.limits = Object.freeze({ ...defaultCodecLimits, ...options.limits });
    this.allowRegExp = options.allowRegExp ?? false;
    this.sj.registerCustom<Uint8Array, number>(
      {
        isApplicable: (v): v is Uint8Array => v instanceof Uint8Array,
        serialize: (v) => this.slot.list.push(v) - 1,
        deserialize: (i) => attachmentAt(this.slot.list, i),
      },
      BIN,
    );
    this.sj.registerCustom<ArrayBuffer, number>(
      {
        isApplicable: (v): v is ArrayBuffer => v instanceof ArrayBuffer,
        serialize: (v) => this.slot.list.push(new Uint8Array(v)) - 1,
        deserialize: (i) => {
          const bytes = attachmentAt(this.slot.list, i);
          return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        },
      },
      BIN_ARRAY_BUFFER,
    );
    for (const kind of REF_KINDS) {
      this.sj.registerCustom<unknown, RefNode>(
        {
          isApplicable: (v): v is unknown => this.refs !== undefined && this.refs.kindOf(v) === kind,
          serialize: (v) => (this.refs as RefScope).write(v),
          deserialize: (node) => (this.refs as RefScope).read(kind, node),
        },
        kind,
      );
    }
  }

  /**
   * Allows a class to travel by name (Pyro's register_class_to_dict / register_dict_to_class).
   * Its own enumerable fields travel; on decode the instance is rebuilt without running the
   * constructor, from fields that already passed the limits and forbidden-key checks.
   */
  registerClass(cls: Ctor, name: string, options: { allowProps?: string[] } = {}): void {
    if (this.classNames.has(name)) throw new Error(`class name '${name}' is already registered`);
    this.classNames.set(name, cls);
    this.sj.registerClass(cls as never, { identifier: name, ...(options.allowProps ? { allowProps: options.allowProps } : {}) });
  }

  /** Errors of a registered class keep their class across the wire (name, message, code, data). */
  registerError(cls: Ctor<Error>, name: string = cls.name): void {
    if (this.errorClasses.has(name)) throw new Error(`error name '${name}' is already registered`);
    this.errorClasses.set(name, cls);
  }

  /** The wire name of an error's registered class, or undefined when it is not registered. */
  errorName(error: Error): string | undefined {
    for (const [name, cls] of this.errorClasses) if (error.constructor === cls) return name;
    return undefined;
  }

  errorClass(name: string): Ctor<Error> | undefined {
    return this.errorClasses.get(name);
  }

  /**
   * Encodes a value. With `refs`, values it names travel by reference (refs.ts); without, they are
   * copied like any other object. `refs` may be a function that makes the scope when it is needed.
   */
  encode(value: unknown, refs?: RefScope | (() => RefScope)): EncodedPayload {
    const plain = plainJsonKind(value);
    if (plain !== PlainJson.No) return { text: stringifyPlain(value, plain) };
    const slot: AttachmentSlot = { list: [] };
    this.slot = slot;
    // A function: the scope is only made for values that may hold references (never on the fast path).
    this.refs = typeof refs === 'function' ? refs() : refs;
    let serialized: ReturnType<SuperJSON['serialize']>;
    try {
      serialized = this.sj.serialize(value);
    } finally {
      this.slot = { list: [] };
      this.refs = undefined;
    }
    const { json, meta } = serialized;
    // superjson's JSON is plain by construction; a long string in it is written as on the fast path.
    const kind = plainJsonKind(json ?? null);
    let text = kind === PlainJson.WithLongStrings ? stringifyPlain(json, kind) : JSON.stringify(json ?? null);
    if (meta) {
      // Shared references travel as full copies (dedupe is off); peers reject the equality table.
      delete meta.referentialEqualities;
      if (meta.values !== undefined) text += '\n' + JSON.stringify(meta);
    }
    return slot.list.length > 0 ? { text, attachments: slot.list } : { text };
  }

  /**
   * Decodes a payload. Throws PayloadError with BAD_FRAME, LIMIT_EXCEEDED or TYPE_NOT_ALLOWED, or the
   * typed error `refs` refuses a reference with. References are refused unless `refs` is given.
   */
  decode(payload: EncodedPayload, refs?: RefScope | (() => RefScope)): unknown {
    const { text } = payload;
    const attachments = payload.attachments ?? NO_ATTACHMENTS;
    if (attachments.length > this.limits.maxAttachments) throw limitExceeded('too many attachments');
    const nl = text.indexOf('\n');
    const json = parseJson(nl < 0 ? text : text.slice(0, nl));
    checkJsonLimits(json, this.limits);
    if (nl < 0) return json;
    const meta = parseJson(text.slice(nl + 1));
    checkJsonLimits(meta, this.limits);
    this.validateMeta(meta, json, attachments.length, refs !== undefined);
    const slot = { list: attachments };
    this.slot = slot;
    // A function: the scope is made only here, for a payload that has a meta line (references need one).
    this.refs = typeof refs === 'function' ? refs() : refs;
    try {
      return this.sj.deserialize({ json: json as never, meta: meta as never });
    } catch (error) {
      if (error instanceof UplinkError) throw error; // a reference refused by its scope
      // The checks above should make this unreachable; never let a superjson error escape raw.
      throw new PayloadError(ErrorCode.TYPE_NOT_ALLOWED, 'payload could not be rebuilt');
    } finally {
      this.slot = { list: [] };
      this.refs = undefined;
    }
  }

  // ---- meta validation: the client's meta is hostile until proven otherwise ----

  private validateMeta(meta: unknown, json: unknown, attachmentCount: number, refs: boolean): void {
    if (!isDict(meta)) throw badFrame('payload meta must be an object');
    for (const key of Object.keys(meta)) {
      if (key === 'referentialEqualities') throw typeNotAllowed('referential equalities are not accepted');
      if (key !== 'values' && key !== 'v') throw badFrame(`unknown meta field '${key}'`);
    }
    const values = meta.values;
    if (values === undefined) return;
    // Paths are checked with version-1 escapes; without `v: 1` superjson would apply them with its
    // legacy rules, and an annotation could land on a value this check never saw. So v is required.
    if (meta.v !== 1) throw badFrame('payload meta must have "v": 1');
    const budget = { left: this.limits.maxAnnotations, attachmentCount, refs };
    if (Array.isArray(values)) this.validateTree(values, json, budget);
    else this.validateChildren(values, json, budget);
  }

  private validateTree(tree: unknown, node: unknown, budget: Budget): void {
    if (!Array.isArray(tree) || tree.length < 1 || tree.length > 2) throw badFrame('malformed meta tree');
    if (--budget.left < 0) throw limitExceeded('too many type annotations');
    if (tree.length === 2) this.validateChildren(tree[1], node, budget);
    this.validateAnnotation(tree[0], node, budget);
  }

  /**
   * Children paths are walked through the raw JSON: every segment must name an existing own key or
   * an in-range array index. Paths in one dictionary must be prefix-free, so no annotation can reach
   * through a value that a sibling annotation has already rebuilt (superjson applies them in turn).
   */
  private validateChildren(children: unknown, node: unknown, budget: Budget): void {
    if (!isDict(children)) throw badFrame('malformed meta children');
    const paths: string[][] = [];
    for (const key of Object.keys(children)) {
      const path = parseMetaPath(key);
      let target = node;
      for (const segment of path) target = child(target, segment);
      paths.push(path);
      this.validateTree(children[key], target, budget);
    }
    checkPrefixFree(paths);
  }

  private validateAnnotation(annotation: unknown, node: unknown, { attachmentCount, refs }: Budget): void {
    if (typeof annotation === 'string') {
      if (annotation === 'regexp' && this.allowRegExp) {
        if (typeof node !== 'string' || node.length > 256 || !/^\/.*\/[dgimsuvy]*$/s.test(node)) throw badFrame('malformed regexp');
        return;
      }
      if (!SIMPLE_TYPES.has(annotation)) throw typeNotAllowed(`type '${annotation}' is not allowed`);
      this.checkSimpleValue(annotation, node);
      return;
    }
    if (!Array.isArray(annotation) || annotation.length !== 2 || typeof annotation[1] !== 'string') {
      throw typeNotAllowed('malformed type annotation');
    }
    const [kind, name] = annotation as [unknown, string];
    if (kind === 'class') {
      if (!this.classNames.has(name)) throw typeNotAllowed(`class '${name}' is not registered`);
      if (!isDict(node)) throw badFrame('class value must be an object');
      return;
    }
    if (kind === 'custom' && (name === BIN || name === BIN_ARRAY_BUFFER)) {
      if (typeof node !== 'number' || !Number.isInteger(node) || node < 0 || node >= attachmentCount) {
        throw badFrame('attachment reference out of range');
      }
      return;
    }
    if (kind === 'custom' && (REF_KINDS as string[]).includes(name)) {
      if (!refs) throw typeNotAllowed('references are not accepted here');
      checkRefNode(name as RefKind, node);
      return;
    }
    throw typeNotAllowed('type is not allowed');
  }

  private checkSimpleValue(type: string, node: unknown): void {
    const ok = (() => {
      switch (type) {
        case 'undefined': return node === null;
        case 'bigint':
          if (typeof node !== 'string' || !/^-?\d+$/.test(node)) return false;
          if (node.replace('-', '').length > this.limits.maxBigIntDigits) throw limitExceeded('bigint has too many digits');
          return true;
        case 'Date': return typeof node === 'string' && node.length <= 64;
        case 'URL': return typeof node === 'string' && node.length <= MAX_SHORT_STRING && URL.canParse(node);
        case 'number': return typeof node === 'string' && SPECIAL_NUMBERS.has(node);
        case 'set': return Array.isArray(node);
        case 'map': return Array.isArray(node) && node.every((e) => Array.isArray(e) && e.length === 2);
        case 'Error':
          return isDict(node) && typeof node.message === 'string' && typeof node.name === 'string' && node.name.length <= 256 &&
            Object.keys(node).every((k) => k === 'name' || k === 'message' || k === 'cause');
        default: return false;
      }
    })();
    if (!ok) throw badFrame(`value does not match its '${type}' annotation`);
  }
}

/**
 * An attachment by its index: own array slots only, so that no key ('__proto__', 'constructor',
 * 'length') can hand out something other than the bytes the frame carried.
 */
function attachmentAt(list: Uint8Array[], index: unknown): Uint8Array {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= list.length) throw badFrame('attachment reference out of range');
  return list[index] as Uint8Array;
}

function typeNotAllowed(message: string): PayloadError {
  return new PayloadError(ErrorCode.TYPE_NOT_ALLOWED, message);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badFrame('payload is not valid JSON');
  }
}
