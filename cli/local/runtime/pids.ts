// The record of running container processes that lets `ambit down` kill leftovers after the
// runner itself crashed. Each entry carries the process's start time so a reused PID is spared.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { killGroup, processStartTicks } from './launcher.js';

export type PidEntry = { pid: number; startTicks?: string };
export type PidsFile = { pod: string; containers: Record<string, PidEntry> };

export function pidsFilePath(logDir: string): string {
  return path.join(path.dirname(path.resolve(logDir)), 'pids.json');
}

export function writePidsFile(file: string, content: PidsFile): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n');
  renameSync(tmp, file);
}

export function readPidsFile(file: string): PidsFile | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as PidsFile;
    return data && typeof data.containers === 'object' ? data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs the process group of every container recorded in `file`. Returns the PIDs (= group ids)
 * it signalled. A PID now used by another process is spared; a leader that is gone may have left
 * its group behind, and Linux does not hand out a PID that is still some group's id, so that
 * group can only be the container's.
 */
export function killLeftovers(file: string): number[] {
  const data = readPidsFile(file);
  if (!data) return [];
  const killed: number[] = [];
  for (const entry of Object.values(data.containers)) {
    if (!Number.isInteger(entry.pid) || entry.pid <= 1) continue;
    const ticks = processStartTicks(entry.pid);
    if (ticks !== undefined && ticks !== entry.startTicks) continue;
    if (killGroup(entry.pid, 'SIGKILL')) killed.push(entry.pid);
  }
  return killed;
}
