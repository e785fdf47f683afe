import { EhmiError } from '@ehmi/errors';
import type { NetworkClient, writeFailure as WriteFailureFn } from '@ehmi/network/client';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';

type WriteFailure = typeof WriteFailureFn;

/** The MSH's event types (`msh/webhooks/events.ts`), for the usage error of --events. */
const EVENTS = ['inbox.received', 'message.acknowledged', 'message.failed'] as const;

interface WebhookJson {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  createdAt: string;
  disabled: { at: string; reason: string | null } | null;
  secret?: string;
}

interface FailureJson {
  id: string;
  type: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  failedAt: string | null;
}

/**
 * `ehmi webhooks add|list|remove|failures|retry`: an organisation's webhooks at its MSH, as its EUA registers them
 * (NetworkClient, with the EUA's certificate-bound token; docs/architecture.md "Push delivery").
 */
export function registerWebhooks(program: Command, ctx: CliContext): void {
  const webhooks = program
    .command('webhooks')
    .description(
      "an organisation's webhooks: its MSH pushes events to them, signed (Standard Webhooks; local network)",
    );

  const data = ['--data <dir>', 'data folder of the running network (default ./.ehmi)'] as const;

  /** Run `fn` with a NetworkClient of the running network, closed after. */
  async function withNetwork(
    dir: string | undefined,
    fn: (net: NetworkClient, writeFailure: WriteFailure) => Promise<void>,
  ): Promise<void> {
    const { NetworkClient, networkDataDir, writeFailure } = await import('@ehmi/network/client');
    const net = NetworkClient.open(networkDataDir(dir, ctx.env, ctx.cwd));
    try {
      await fn(net, writeFailure);
    } finally {
      await net.close();
    }
  }

  webhooks
    .command('add')
    .description("register a webhook at the organisation's MSH; prints its id and its secret (shown once)")
    .argument('<org>', 'organisation of the local network')
    .argument('<url>', 'https URL of the EUA’s receiver')
    .option('--events <types>', `comma-separated event types (default all: ${EVENTS.join(', ')})`)
    .option('--description <text>', 'what the webhook is for')
    .option('--json', 'print the registration as JSON')
    .option(...data)
    .action(
      async (
        orgName: string,
        url: string,
        opts: { events?: string; description?: string; json?: boolean; data?: string },
      ) => {
        const events = opts.events?.split(',').map((e) => e.trim());
        const unknown = events?.find((e) => !(EVENTS as readonly string[]).includes(e));
        if (unknown !== undefined) {
          throw new EhmiError(
            'EHMI_USAGE',
            `--events: unknown event type "${unknown}" (${EVENTS.join(', ')})`,
          );
        }
        await withNetwork(opts.data, async (net, writeFailure) => {
          const org = net.organisation(orgName);
          const res = await net.call(org.name, 'POST', '/webhooks', {
            bytes: JSON.stringify({
              url,
              ...(events ? { events } : {}),
              ...(opts.description ? { description: opts.description } : {}),
            }),
            contentType: 'application/json',
          });
          if (res.status !== 201) {
            ctx.exitCode = writeFailure(ctx.stderr, `webhook registration at ${org.name}`, res);
            return;
          }
          const hook = res.json as WebhookJson;
          if (opts.json) {
            writeLine(ctx.stdout, JSON.stringify(hook, null, 2));
            return;
          }
          writeLine(ctx.stdout, `webhook ${hook.id} of ${org.name}: ${hook.url} (${hook.events.join(', ')})`);
          writeLine(ctx.stdout, `secret (shown once; verify each webhook-signature with it): ${hook.secret}`);
        });
      },
    );

  webhooks
    .command('list')
    .description("list the organisation's webhooks")
    .argument('<org>', 'organisation of the local network')
    .option('--json', 'print a JSON array')
    .option(...data)
    .action(async (orgName: string, opts: { json?: boolean; data?: string }) => {
      await withNetwork(opts.data, async (net, writeFailure) => {
        const org = net.organisation(orgName);
        const res = await net.call(org.name, 'GET', '/webhooks');
        if (res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `${org.name} webhooks`, res);
          return;
        }
        const list = (Array.isArray(res.json) ? res.json : []) as WebhookJson[];
        if (opts.json) {
          writeLine(ctx.stdout, JSON.stringify(list, null, 2));
          return;
        }
        writeLine(
          ctx.stdout,
          `${org.name} webhooks: ${list.length === 0 ? 'none' : `${list.length} webhook${list.length === 1 ? '' : 's'}`}`,
        );
        for (const w of list) {
          const off = w.disabled ? `  DISABLED ${w.disabled.at}: ${w.disabled.reason ?? ''}` : '';
          writeLine(ctx.stdout, `${w.id}  ${w.url}  ${w.events.join(',')}${off}`);
        }
      });
    });

  webhooks
    .command('remove')
    .description('remove a webhook: nothing more is sent to it')
    .argument('<org>', 'organisation of the local network')
    .argument('<id>', 'webhook id (ehmi webhooks list ORG)')
    .option(...data)
    .action(async (orgName: string, id: string, opts: { data?: string }) => {
      await withNetwork(opts.data, async (net, writeFailure) => {
        const org = net.organisation(orgName);
        const res = await net.call(org.name, 'DELETE', `/webhooks/${encodeURIComponent(id)}`);
        if (res.status !== 204) {
          ctx.exitCode = writeFailure(ctx.stderr, `removal of webhook ${id} at ${org.name}`, res);
          return;
        }
        writeLine(ctx.stdout, `webhook ${id} of ${org.name} removed`);
      });
    });

  webhooks
    .command('failures')
    .description("a webhook's failure list: deliveries whose last try failed")
    .argument('<org>', 'organisation of the local network')
    .argument('<id>', 'webhook id')
    .option('--json', 'print a JSON array (with each payload)')
    .option(...data)
    .action(async (orgName: string, id: string, opts: { json?: boolean; data?: string }) => {
      await withNetwork(opts.data, async (net, writeFailure) => {
        const org = net.organisation(orgName);
        const res = await net.call(org.name, 'GET', `/webhooks/${encodeURIComponent(id)}/failures`);
        if (res.status !== 200) {
          ctx.exitCode = writeFailure(ctx.stderr, `failures of webhook ${id} at ${org.name}`, res);
          return;
        }
        const list = (Array.isArray(res.json) ? res.json : []) as FailureJson[];
        if (opts.json) {
          writeLine(ctx.stdout, JSON.stringify(list, null, 2));
          return;
        }
        writeLine(
          ctx.stdout,
          `webhook ${id} of ${org.name}: ${list.length} failed deliver${list.length === 1 ? 'y' : 'ies'}`,
        );
        for (const f of list) {
          writeLine(
            ctx.stdout,
            `${f.id}  ${f.type}  ${f.attempts} tries  ${f.failedAt ?? ''}  ${f.lastStatus ?? 'no answer'}: ${f.lastError ?? ''}`,
          );
        }
      });
    });

  webhooks
    .command('retry')
    .description('try a failed delivery again (the same webhook-id and body)')
    .argument('<org>', 'organisation of the local network')
    .argument('<id>', 'webhook id')
    .argument('<delivery>', 'delivery id (msg_…, ehmi webhooks failures ORG ID)')
    .option(...data)
    .action(async (orgName: string, id: string, delivery: string, opts: { data?: string }) => {
      await withNetwork(opts.data, async (net, writeFailure) => {
        const org = net.organisation(orgName);
        const res = await net.call(
          org.name,
          'POST',
          `/webhooks/${encodeURIComponent(id)}/failures/${encodeURIComponent(delivery)}/$retry`,
        );
        if (res.status !== 202) {
          ctx.exitCode = writeFailure(ctx.stderr, `retry of ${delivery} at ${org.name}`, res);
          return;
        }
        writeLine(ctx.stdout, `delivery ${delivery} of webhook ${id} queued again`);
      });
    });
}
