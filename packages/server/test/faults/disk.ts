// The receiver's disk full: its data folder on a small tmpfs of its own, filled to the last byte while messages
// come, then freed. Where mounting is impossible (not root, no tmpfs), an injected storage failure instead: the
// receiver's temp and blob folders are replaced by plain files, so every write under them fails (ENOTDIR).
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface DataDisk {
  /** The receiver's data folder. */
  dir: string;
  /** 'tmpfs' (a file system of its own, filled) or 'injected' (its write folders replaced by files). */
  how: 'tmpfs' | 'injected';
  fill(): void;
  free(): void;
  release(): void;
}

/** A data folder for the receiver at `dir`: a tmpfs of `sizeMiB` when this process may mount one (and EHMI_FAULTS_NO_MOUNT is not 1). */
export function dataDisk(dir: string, sizeMiB = 64): DataDisk {
  mkdirSync(dir, { recursive: true });
  const mounted =
    process.platform === 'linux' &&
    process.env.EHMI_FAULTS_NO_MOUNT !== '1' &&
    spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], { stdio: 'ignore' })
      .status === 0;
  const filler = join(dir, 'filler');
  const moved: { path: string; existed: boolean }[] = [];
  if (mounted) {
    return {
      dir,
      how: 'tmpfs',
      fill() {
        // Write until the file system refuses: 1 MiB chunks, then 4 KiB ones for the last pages.
        const fd = openSync(filler, 'a');
        try {
          for (const size of [1024 * 1024, 4096, 512]) {
            const chunk = Buffer.alloc(size, 0x2e);
            for (;;) {
              try {
                writeSync(fd, chunk);
              } catch {
                break;
              }
            }
          }
        } finally {
          closeSync(fd);
        }
        const left = statfsSync(dir);
        if (left.bavail > 0) throw new Error(`the receiver's disk still has ${left.bavail} blocks free`);
      },
      free() {
        rmSync(filler, { force: true });
      },
      release() {
        spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  // The folders the receiving AP writes a message to before it commits it: its temp files and the blob store.
  const targets = [join(dir, 'tmp'), join(dir, 'blobs')];
  return {
    dir,
    how: 'injected',
    fill() {
      for (const path of targets) {
        const existed = existsSync(path);
        if (existed) renameSync(path, `${path}.away`);
        closeSync(openSync(path, 'w'));
        moved.push({ path, existed });
      }
    },
    free() {
      for (const { path, existed } of moved.splice(0)) {
        rmSync(path, { force: true });
        if (existed) renameSync(`${path}.away`, path);
      }
    },
    release() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
