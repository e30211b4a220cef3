// The @kubernetes/client-node model classes that validation reads (their attribute type maps), loaded one module each,
// from the kinds the API server serves outwards through the types their fields name. The package's models/all.js
// would load all 757 of them, about 30 MB of the API server's memory, for the hundred or so these kinds reach.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ModelClass {
  getAttributeTypeMap(): Array<{ name: string; baseName: string; type: string }>;
}

/** The client-node model of each kind with a typed schema (rules' `schema`), and ObjectMeta for every other kind. */
export const RootModels = [
  'V1ObjectMeta', 'CoreV1Event', 'V1Binding', 'V1CSIDriver', 'V1CSINode', 'V1CSIStorageCapacity', 'V1ConfigMap', 'V1Lease',
  'V1Namespace', 'V1Node', 'V1PersistentVolume', 'V1PersistentVolumeClaim', 'V1Pod', 'V1Secret', 'V1ServiceAccount',
  'V1StorageClass', 'V1VolumeAttachment',
];

const modelsDir = new URL('./', import.meta.resolve('@kubernetes/client-node/dist/gen/models/all.js'));

/** The model names a client-node type string refers to: `V1Foo`, `Array<V1Foo>`, `{ [key: string]: V1Foo; }`. */
function namesIn(type: string): string[] {
  return type.match(/[A-Z][A-Za-z0-9]*/g) ?? [];
}

async function load(roots: string[]): Promise<Map<string, ModelClass>> {
  const registry = new Map<string, ModelClass>();
  const queue = [...roots];
  while (queue.length > 0) {
    const batch = queue.splice(0).filter((name) => !registry.has(name) && existsSync(fileURLToPath(new URL(`${name}.js`, modelsDir))));
    const loaded = await Promise.all(batch.map(async (name) => [name, (await import(new URL(`${name}.js`, modelsDir).href))[name]] as const));
    for (const [name, model] of loaded) {
      if (typeof (model as ModelClass | undefined)?.getAttributeTypeMap !== 'function' || registry.has(name)) continue;
      registry.set(name, model as ModelClass);
      for (const { type } of (model as ModelClass).getAttributeTypeMap()) queue.push(...namesIn(type));
    }
  }
  return registry;
}

/** Every model reachable from RootModels, by class name. */
export const modelRegistry: ReadonlyMap<string, ModelClass> = await load(RootModels);
