/**
 * Services (`k8s.io/api` core/v1) and EndpointSlices (discovery/v1) from protobuf, read into the
 * shapes core/objects.ts declares — exactly the fields those shapes have, as the JSON watch gives
 * them (omitempty strings via {@link opt}; pointer fields, which protobuf writes only when set, set
 * whenever present, even empty). Everything else is skipped. Pure.
 */
import type { Endpoint, EndpointSlice, Service, ServicePort } from '../core/objects.ts';
import { objectMeta, opt } from './proto-meta.ts';
import { watchEventDecoder } from './proto-watch.ts';
import { bytesOf, forEachField, mapEntryOf, numberOf, stringOf } from './protobuf.ts';

/** One Service watch frame, as the JSON watch would have delivered it. */
export const decodeServiceWatchEvent = watchEventDecoder('Service', service);
/** One EndpointSlice watch frame, as the JSON watch would have delivered it. */
export const decodeEndpointSliceWatchEvent = watchEventDecoder('EndpointSlice', endpointSlice);

/** `Service`: metadata = 1, spec = 2 (status skipped). */
function service(buf: Buffer): Service {
  const s: Service = { apiVersion: 'v1', kind: 'Service' };
  forEachField(buf, (f, v) => {
    if (f === 1) s.metadata = objectMeta(bytesOf(v, 'Service.metadata'));
    else if (f === 2) s.spec = serviceSpec(bytesOf(v, 'Service.spec'));
  });
  return s;
}

/**
 * `ServiceSpec`: ports = 1, selector = 2, clusterIP = 3, type = 4, sessionAffinity = 7,
 * externalName = 10, externalTrafficPolicy = 11, clusterIPs = 18, ipFamilies = 19,
 * internalTrafficPolicy = 22.
 */
function serviceSpec(buf: Buffer): NonNullable<Service['spec']> {
  const s: NonNullable<Service['spec']> = {};
  const ports: ServicePort[] = [];
  const selector: Record<string, string> = {};
  const clusterIPs: string[] = [];
  const ipFamilies: string[] = [];
  forEachField(buf, (f, v) => {
    if (f === 1) ports.push(servicePort(bytesOf(v, 'spec.ports')));
    else if (f === 2) {
      const [k, x] = mapEntryOf(v, 'spec.selector');
      selector[k] = x;
    } else if (f === 3) opt(s, 'clusterIP', stringOf(v, 'spec.clusterIP'));
    else if (f === 4) opt(s, 'type', stringOf(v, 'spec.type'));
    else if (f === 7) opt(s, 'sessionAffinity', stringOf(v, 'spec.sessionAffinity'));
    else if (f === 10) opt(s, 'externalName', stringOf(v, 'spec.externalName'));
    else if (f === 11) opt(s, 'externalTrafficPolicy', stringOf(v, 'spec.externalTrafficPolicy'));
    else if (f === 18) clusterIPs.push(stringOf(v, 'spec.clusterIPs'));
    else if (f === 19) ipFamilies.push(stringOf(v, 'spec.ipFamilies'));
    else if (f === 22) s.internalTrafficPolicy = stringOf(v, 'spec.internalTrafficPolicy'); // a pointer
  });
  if (ports.length > 0) s.ports = ports;
  if (Object.keys(selector).length > 0) s.selector = selector;
  if (clusterIPs.length > 0) s.clusterIPs = clusterIPs;
  if (ipFamilies.length > 0) s.ipFamilies = ipFamilies;
  return s;
}

/** `ServicePort`: name = 1, protocol = 2, port = 3, targetPort = 4, nodePort = 5, appProtocol = 6. */
function servicePort(buf: Buffer): ServicePort {
  const p: ServicePort = { port: 0 };
  forEachField(buf, (f, v) => {
    if (f === 1) opt(p, 'name', stringOf(v, 'port.name'));
    else if (f === 2) opt(p, 'protocol', stringOf(v, 'port.protocol'));
    else if (f === 3) p.port = numberOf(v, 'port.port');
    else if (f === 4) p.targetPort = intOrString(bytesOf(v, 'port.targetPort'));
    else if (f === 5) {
      const n = numberOf(v, 'port.nodePort');
      if (n !== 0) p.nodePort = n;
    } else if (f === 6) p.appProtocol = stringOf(v, 'port.appProtocol'); // a pointer
  });
  // JSON always carries targetPort (a struct, never omitted): 0 when unset.
  p.targetPort ??= 0;
  return p;
}

/** `IntOrString`: type = 1 (0 int, 1 string), intVal = 2, strVal = 3. */
function intOrString(buf: Buffer): number | string {
  let type = 0;
  let intVal = 0;
  let strVal = '';
  forEachField(buf, (f, v) => {
    if (f === 1) type = numberOf(v, 'IntOrString.type');
    else if (f === 2) intVal = numberOf(v, 'IntOrString.intVal');
    else if (f === 3) strVal = stringOf(v, 'IntOrString.strVal');
  });
  return type === 1 ? strVal : intVal;
}

/** `EndpointSlice`: metadata = 1, endpoints = 2, ports = 3, addressType = 4. */
function endpointSlice(buf: Buffer): EndpointSlice {
  const s: EndpointSlice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: '' };
  const endpoints: Endpoint[] = [];
  const ports: NonNullable<EndpointSlice['ports']> = [];
  forEachField(buf, (f, v) => {
    if (f === 1) s.metadata = objectMeta(bytesOf(v, 'EndpointSlice.metadata'));
    else if (f === 2) endpoints.push(endpoint(bytesOf(v, 'EndpointSlice.endpoints')));
    else if (f === 3) {
      // Every field a pointer: present means set.
      const p: NonNullable<EndpointSlice['ports']>[number] = {};
      forEachField(bytesOf(v, 'EndpointSlice.ports'), (g, w) => {
        if (g === 1) p.name = stringOf(w, 'port.name');
        else if (g === 2) p.protocol = stringOf(w, 'port.protocol');
        else if (g === 3) p.port = numberOf(w, 'port.port');
        else if (g === 4) p.appProtocol = stringOf(w, 'port.appProtocol');
      });
      ports.push(p);
    } else if (f === 4) s.addressType = stringOf(v, 'EndpointSlice.addressType');
  });
  // JSON sends null for none (no omitempty): left out here, as a cache of JSON reads them.
  if (endpoints.length > 0) s.endpoints = endpoints;
  if (ports.length > 0) s.ports = ports;
  return s;
}

/**
 * `Endpoint`: addresses = 1, conditions = 2 (ready = 1, serving = 2, terminating = 3), hostname = 3,
 * targetRef = 4, nodeName = 6, zone = 7, hints = 8 (forZones = 1, forNodes = 2; each name = 1).
 */
function endpoint(buf: Buffer): Endpoint {
  const e: Endpoint = { addresses: [] };
  forEachField(buf, (f, v) => {
    if (f === 1) e.addresses.push(stringOf(v, 'endpoint.addresses'));
    else if (f === 2) {
      const c: NonNullable<Endpoint['conditions']> = {};
      forEachField(bytesOf(v, 'endpoint.conditions'), (g, w) => {
        if (g === 1) c.ready = numberOf(w, 'conditions.ready') !== 0;
        else if (g === 2) c.serving = numberOf(w, 'conditions.serving') !== 0;
        else if (g === 3) c.terminating = numberOf(w, 'conditions.terminating') !== 0;
      });
      e.conditions = c;
    } else if (f === 3) e.hostname = stringOf(v, 'endpoint.hostname');
    else if (f === 4) {
      const r: NonNullable<Endpoint['targetRef']> = {};
      forEachField(bytesOf(v, 'endpoint.targetRef'), (g, w) => {
        if (g === 1) opt(r, 'kind', stringOf(w, 'targetRef.kind'));
        else if (g === 2) opt(r, 'namespace', stringOf(w, 'targetRef.namespace'));
        else if (g === 3) opt(r, 'name', stringOf(w, 'targetRef.name'));
        else if (g === 4) opt(r, 'uid', stringOf(w, 'targetRef.uid'));
      });
      e.targetRef = r;
    } else if (f === 6) e.nodeName = stringOf(v, 'endpoint.nodeName');
    else if (f === 7) e.zone = stringOf(v, 'endpoint.zone');
    else if (f === 8) e.hints = hints(bytesOf(v, 'endpoint.hints'));
  });
  return e;
}

/** `EndpointHints`: forZones = 1, forNodes = 2 (each a message of name = 1). */
function hints(buf: Buffer): NonNullable<Endpoint['hints']> {
  const forZones: { name: string }[] = [];
  const forNodes: { name: string }[] = [];
  forEachField(buf, (f, v) => {
    if (f !== 1 && f !== 2) return;
    let name = '';
    forEachField(bytesOf(v, 'endpoint.hints'), (g, w) => {
      if (g === 1) name = stringOf(w, 'hint.name');
    });
    if (f === 1) forZones.push({ name });
    else if (f === 2) forNodes.push({ name });
  });
  const h: NonNullable<Endpoint['hints']> = {};
  if (forZones.length > 0) h.forZones = forZones;
  if (forNodes.length > 0) h.forNodes = forNodes;
  return h;
}
