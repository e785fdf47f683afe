/**
 * Runs `fn` for `seconds` (after `warmUp` runs) and prints wall-clock operations per second and the process CPU time
 * per operation (user + system). On a shared, loaded machine the CPU figure is the steadier one: ops/s ≈ 1000 /
 * cpu-ms per core.
 *
 * @example
 * await rate('parseXml 50 KB', 2, () => parseXml(xml));
 */
export async function rate(
  label: string,
  seconds: number,
  fn: () => unknown,
  warmUp = 5,
): Promise<{ cpuMsPerOp: number }> {
  for (let i = 0; i < warmUp; i++) await fn();
  let n = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await fn();
    n++;
  }
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / n;
  console.log(
    `${label.padEnd(84)} ${(n / elapsed).toFixed(1).padStart(8)} /s wall  ${cpuMs.toFixed(3).padStart(7)} ms cpu/op  (${(1000 / cpuMs).toFixed(0)} /s per core)`,
  );
  return { cpuMsPerOp: cpuMs };
}
