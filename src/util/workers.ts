import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from a module given by its `.js` URL beside the caller.
 * In the built package that file exists; when running the TypeScript sources
 * (tests, tsx) only the `.ts` file does, and the worker loads it through tsx.
 */
export function startWorker(jsUrl: URL, options: WorkerOptions = {}): Worker {
  const js = fileURLToPath(jsUrl);
  if (existsSync(js)) return new Worker(js, options);
  const ts = js.replace(/\.js$/, '.ts');
  if (!existsSync(ts)) throw new Error(`worker module not found: ${js}`);
  // `--import tsx` does not reach a worker's entry module on Node 20, so register tsx inside the worker first
  // (resolved here: an eval'd worker resolves bare specifiers from the cwd, which may be outside the project)
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const esmApi = JSON.parse(readFileSync(tsxPackage, 'utf8')).exports['./esm/api'].import.default as string;
  const tsx = pathToFileURL(join(dirname(tsxPackage), esmApi)).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(ts).href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
