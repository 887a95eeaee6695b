/**
 * A process's figures as Linux keeps them in /proc: CPU time (every thread,
 * live or gone), resident memory, and the busy time of each core. The
 * server launcher reads its child's; the bench reads the machine's too.
 *
 * @module
 */

/** utime and stime of a whole process, in clock ticks. */
export function cpuTicksSplit(
  pid: number | "self",
): { user: number; system: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/** utime + stime of a whole process, in clock ticks. */
export function cpuTicks(pid: number | "self"): number {
  const { user, system } = cpuTicksSplit(pid);
  return user + system;
}

/** VmRSS of a process, in KiB. */
export function rssKiB(pid: number | "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) : 0;
}

/** Busy and total clock ticks of each CPU, from /proc/stat. */
export function coreTicks(): { busy: number; total: number }[] {
  const cores: { busy: number; total: number }[] = [];
  for (const line of Deno.readTextFileSync("/proc/stat").split("\n")) {
    const match = /^cpu(\d+)\s+(.+)$/.exec(line);
    if (!match) continue;
    const v = match[2].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest counted in user)
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores[Number(match[1])] = { busy: total - idle, total };
  }
  return cores;
}
