// Import rules of onbehalf, checked by dependency-cruiser in `npm run lint` (so in `npm test` and
// CI). docs/architecture.md explains the layers; this file is the rule book. Each rule carries a
// `comment` that dependency-cruiser prints next to a violation.
//
//   npm run lint:imports                   check (npm run lint and npm test run it)
//   npx depcruise src --output-type text   list every import edge, to see what a change did
import { existsSync } from 'node:fs'

/**
 * The layers of src/, lowest first. A folder imports any folder of a lower layer and, unless a
 * rule below says otherwise (services-independent), the other folders of its own layer; never a
 * folder of a higher layer.
 */
const LAYERS = [
  {
    name: 'time',
    folders: ['time'],
    why: 'the one clock unit (epoch seconds, Clock): the bottom, it knows nothing else',
  },
  {
    name: 'jws',
    folders: ['jws', 'jwt'],
    why: 'JOSE below every token user: node:crypto JWS sign/verify and algorithms; the one RFC 9068 claims validator and act parser shared by the engine and the resource kit',
  },
  {
    name: 'foundation',
    folders: ['log', 'limits', 'storage', 'metrics'],
    why: 'logging, rate limiting, metrics and the database openers: no domain knowledge, usable by any layer',
  },
  {
    name: 'keys',
    folders: ['keys'],
    why: 'key sets (remote JWKS cache, signing keys) for the engine, the OP, the STS and the kits',
  },
  {
    name: 'exchange',
    folders: ['exchange'],
    why: 'the engine: framework-free, so the OP grant and the STS run the same code',
  },
  {
    name: 'idp_profiles',
    folders: ['idp_profiles'],
    why: 'what each IdP kind supports: pure descriptions, read by config, the apps and the CLI',
  },
  {
    name: 'config',
    folders: ['config'],
    why: 'the environment and policy file, validated once (policy types come from the engine)',
  },
  {
    name: 'keycloak',
    folders: ['keycloak'],
    why: "Keycloak's Admin REST API client, the setup planner and applier, and the no-Docker launcher: talks to Keycloak only, knows no service",
  },
  {
    name: 'web',
    folders: ['web'],
    why: "the apps' and the OP's web kit (sessions, CSRF, OIDC login, page layout)",
  },
  {
    name: 'services',
    folders: ['idp', 'sts', 'resource', 'client'],
    why: 'the OP, the STS and the two kits: independent of each other (rule services-independent)',
  },
  {
    name: 'demo',
    folders: ['demo'],
    why: "the demo's token paths and the login-form robot, built on the client kit",
  },
  {
    name: 'attack',
    folders: ['attack'],
    why: 'the attack lab: drives the demo paths as a compromised App A',
  },
  {
    name: 'apps',
    folders: ['apps'],
    why: 'App A, App B, App C: composed from everything below',
  },
  {
    name: 'cli',
    folders: ['cli'],
    why: 'the onbehalf command: the composition root, it may import everything',
  },
]

/** The kits other services install alone (`onbehalf/resource`, `onbehalf/client`, …). */
const KITS = ['resource', 'client', 'exchange', 'sts']
/** What a kit must never import: the demo, the OP and the CLI do not ship with a kit. */
const NOT_FOR_KITS = ['apps', 'demo', 'attack', 'cli', 'idp', 'web']

/**
 * Imports that break a rule today and that another change removes. The rule stays on for every
 * other import. When the import is gone, the check fails (rule known-violation-gone) until its
 * entry here is deleted too, so the rule tightens as soon as the fix lands.
 */
/** @type {Array<{ rules: string[], from: string, to: string, removedBy: string }>} */
const KNOWN_VIOLATIONS = []

for (const entry of KNOWN_VIOLATIONS) {
  if (!existsSync(entry.from)) {
    throw new Error(
      `.dependency-cruiser.js: known violation ${entry.from} → ${entry.to}: ${entry.from} is gone; delete the entry`,
    )
  }
}

const folderPattern = (folders) => `^src/(${folders.join('|')})/`
const exact = (file) => `^${file.replaceAll('.', '[.]')}$`

/**
 * A forbidden rule with the known violations cut out: the rule as written for every other module,
 * and, for each module with a known violation, the rule minus that one import.
 */
function withKnownViolations(rule) {
  const known = KNOWN_VIOLATIONS.filter((entry) => entry.rules.includes(rule.name))
  if (known.length === 0) return [rule]
  const fromPathNot = [rule.from.pathNot, ...known.map((entry) => exact(entry.from))].flat()
  return [
    { ...rule, from: { ...rule.from, pathNot: fromPathNot.filter(Boolean) } },
    ...known.map((entry) => ({
      ...rule,
      comment: `${rule.comment} (known violation ${entry.from} → ${entry.to}, removed by ${entry.removedBy})`,
      from: { path: exact(entry.from) },
      to: { ...rule.to, pathNot: [rule.to.pathNot, exact(entry.to)].flat().filter(Boolean) },
    })),
  ]
}

const layerRules = LAYERS.slice(0, -1).map((layer, index) => ({
  name: `layer-${layer.name}`,
  severity: 'error',
  comment: `${layer.name} (${layer.why}) imports only lower layers: ${
    LAYERS.slice(0, index)
      .flatMap((lower) => lower.folders)
      .join(', ') || 'nothing in src'
  }`,
  from: { path: folderPattern(layer.folders) },
  to: { path: folderPattern(LAYERS.slice(index + 1).flatMap((higher) => higher.folders)) },
}))

const rules = [
  {
    name: 'no-circular',
    severity: 'error',
    comment:
      'no import cycles, type-only imports included: a cycle means two modules are one concern ' +
      'split badly, or a lower one reaches up',
    from: {},
    to: { circular: true },
  },
  ...layerRules,
  {
    name: 'services-independent',
    severity: 'error',
    comment:
      'the OP, the STS, the resource kit and the client kit share code only through lower ' +
      'layers (jws, keys, exchange), so each can change or ship alone',
    from: { path: folderPattern(LAYERS.find((layer) => layer.name === 'services').folders) },
    to: {
      path: folderPattern(LAYERS.find((layer) => layer.name === 'services').folders),
      pathNot: '^src/$1/',
    },
  },
  {
    name: 'kits-stand-alone',
    severity: 'error',
    comment:
      'a kit (resource, client, exchange, sts) is installed without the demo: it never imports ' +
      `${NOT_FOR_KITS.join(', ')}`,
    from: { path: folderPattern(KITS) },
    to: { path: folderPattern(NOT_FOR_KITS) },
  },
  {
    name: 'http-between-services',
    severity: 'error',
    comment:
      'the demo paths, the attack lab and the apps reach the OP and the STS over HTTP, as any ' +
      "other service would: they never import src/idp or src/sts (nor read the IdP's files)",
    from: { path: folderPattern(['demo', 'attack', 'apps']) },
    to: { path: folderPattern(['idp', 'sts']) },
  },
  {
    name: 'every-folder-has-a-layer',
    severity: 'error',
    comment: 'a new folder under src/ gets its place in LAYERS (.dependency-cruiser.js) first',
    from: { path: '^src/', pathNot: folderPattern(LAYERS.flatMap((layer) => layer.folders)) },
    to: {},
  },
  {
    name: 'src-not-to-tests-or-bench',
    severity: 'error',
    comment: 'shipped code never imports the tests, their helpers or the benchmark',
    from: { path: '^(src|bin)/' },
    to: { path: '^(test|bench)/' },
  },
  {
    name: 'src-not-to-dev-dependencies',
    severity: 'error',
    comment:
      'shipped code imports only "dependencies": a devDependency is absent where onbehalf is ' +
      'installed',
    from: { path: '^(src|bin)/' },
    to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
  },
  {
    name: 'no-undeclared-packages',
    severity: 'error',
    comment: 'every package imported is declared in package.json (not only present transitively)',
    from: {},
    // `npm` excluded: dependency-cruiser also reports a package listed in peerDependenciesMeta
    // (fastify, an optional peer besides a dependency) as npm-no-pkg.
    to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: ['npm'] },
  },
  {
    name: 'not-to-unresolvable',
    severity: 'error',
    comment: 'every import resolves to a file or a package',
    from: {},
    to: { couldNotResolve: true },
  },
]

/** Each known violation must still exist: a fixed one is deleted from KNOWN_VIOLATIONS. */
const knownViolationsStillThere = KNOWN_VIOLATIONS.map((entry) => ({
  name: 'known-violation-gone',
  severity: 'error',
  comment: `${entry.from} no longer imports ${entry.to}: delete its entry in KNOWN_VIOLATIONS (.dependency-cruiser.js and docs/architecture.md), so the rules hold for it again`,
  module: { path: exact(entry.from) },
  to: { path: exact(entry.to) },
}))

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: rules.flatMap(withKnownViolations),
  required: knownViolationsStillThere,
  options: {
    doNotFollow: { path: ['node_modules'] },
    // Type-only imports are dependencies too: a layer that needs a higher layer's types is
    // coupled to it just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    exclude: { path: ['^dist/', '^data/'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
}
