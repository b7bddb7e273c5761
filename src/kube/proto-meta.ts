/**
 * The `metav1` messages every object carries, read from protobuf into the shapes core/objects.ts
 * declares — exactly as the JSON form has them (protobuf writes empty strings and zero times that
 * JSON's `omitempty` leaves out: {@link opt} drops them). Pure.
 */
import type { ObjectMeta, OwnerReference } from '../core/objects.ts';
import { bytesOf, forEachField, mapEntryOf, numberOf, stringOf, type WireValue } from './protobuf.ts';

/**
 * `metav1.Time` (seconds = 1; nanos dropped, as its JSON form does) as RFC 3339. A zero time goes
 * as an empty message (JSON: null): undefined, as is a time before 1970 or past year 9999.
 */
export function time(v: WireValue, what: string): string | undefined {
  let seconds: number | undefined;
  forEachField(bytesOf(v, what), (f, w) => {
    if (f === 1) seconds = numberOf(w, `${what}.seconds`);
  });
  if (seconds === undefined || seconds <= 0 || seconds > 253_402_300_799) return undefined;
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Sets `obj[key]` unless `value` is undefined or empty: protobuf writes empty strings and zero
 * times that JSON leaves out (`omitempty`), and the two forms must read the same.
 */
export function opt<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined && (value as unknown) !== '') obj[key] = value;
}

/** `metav1.ObjectMeta`, the fields core/objects.ts declares (managedFields and the rest skipped). */
export function objectMeta(buf: Buffer): ObjectMeta {
  const m: ObjectMeta = {};
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  const owners: OwnerReference[] = [];
  forEachField(buf, (f, v) => {
    if (f === 1) opt(m, 'name', stringOf(v, 'metadata.name'));
    else if (f === 2) opt(m, 'generateName', stringOf(v, 'metadata.generateName'));
    else if (f === 3) opt(m, 'namespace', stringOf(v, 'metadata.namespace'));
    else if (f === 5) opt(m, 'uid', stringOf(v, 'metadata.uid'));
    else if (f === 6) opt(m, 'resourceVersion', stringOf(v, 'metadata.resourceVersion'));
    else if (f === 8) opt(m, 'creationTimestamp', time(v, 'metadata.creationTimestamp'));
    else if (f === 9) opt(m, 'deletionTimestamp', time(v, 'metadata.deletionTimestamp'));
    else if (f === 11) {
      const [k, x] = mapEntryOf(v, 'metadata.labels');
      labels[k] = x;
    } else if (f === 12) {
      const [k, x] = mapEntryOf(v, 'metadata.annotations');
      annotations[k] = x;
    } else if (f === 13) owners.push(ownerReference(bytesOf(v, 'metadata.ownerReferences')));
  });
  if (Object.keys(labels).length > 0) m.labels = labels;
  if (Object.keys(annotations).length > 0) m.annotations = annotations;
  if (owners.length > 0) m.ownerReferences = owners;
  return m;
}

/** `metav1.OwnerReference`: kind = 1, name = 3, uid = 4, apiVersion = 5, controller = 6. */
function ownerReference(buf: Buffer): OwnerReference {
  const o = { apiVersion: '', kind: '', name: '', uid: '' } as {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
  };
  forEachField(buf, (f, v) => {
    if (f === 1) o.kind = stringOf(v, 'ownerReference.kind');
    else if (f === 3) o.name = stringOf(v, 'ownerReference.name');
    else if (f === 4) o.uid = stringOf(v, 'ownerReference.uid');
    else if (f === 5) o.apiVersion = stringOf(v, 'ownerReference.apiVersion');
    else if (f === 6) o.controller = numberOf(v, 'ownerReference.controller') !== 0; // a pointer: set means sent
  });
  return o;
}
