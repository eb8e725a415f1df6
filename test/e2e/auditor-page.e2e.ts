import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sessionsService } from '@retention/service-sessions';
import { chromium, type Browser, type Request } from 'playwright-core';
import { waitFor } from '@retention/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Platform, startPlatform, TOKENS } from './support';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the test leaves its screenshot (git ignores it). */
export const SCREENSHOT = resolve(root, 'test/e2e/.artifacts/auditor-page.png');
/** Debian's chromium (scripts/lib.sh installs it with the other test tools); browser downloads do not work here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The auditor page in a real browser (Debian's Chromium driven by playwright-core): with the
 * auditor token typed in, it shows the ledger's verification, the summary, the matrix of requests
 * × targets with held and failed highlighted, the policies with their legal basis, and downloads
 * the CSV; no request it makes carries a subject id, and a wrong token is an error it shows.
 */
describe('the auditor page', () => {
  let platform: Platform;
  let browser: Browser;
  const subjects = ['page-alice', 'page-bob'];
  let completedId: string;
  let heldId: string;

  beforeAll(async () => {
    platform = await startPlatform([sessionsService], { coordinatorEnv: { RETENTION_PROBE_AFTER_COMPLETION: 'true' } });
    const sessions = platform.services.get('sessions')!.dataSource;
    for (const s of subjects) await sessions.query(`INSERT INTO sessions (user_id, started_at) VALUES ($1, now())`, [s]);
    const erase = async (id: string): Promise<string> =>
      (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id } } })).body.id;
    completedId = await erase(subjects[0]!);
    expect((await platform.waitForRequest(completedId)).status).toBe('completed');
    // The deletion probe that follows a completed erasure (RETENTION_PROBE_AFTER_COMPLETION) answers.
    await waitFor('the probe after completion to answer', async () => {
      const rows = (await platform.coordinator.dataSource.query(`SELECT status FROM erasure_probes WHERE request_id = $1 AND answered_at IS NOT NULL`, [
        completedId,
      ])) as Array<{ status: string }>;
      return rows.length > 0 ? rows : undefined;
    });
    const hold = await platform.api('POST', '/v1/legal-holds', {
      body: { reason: 'litigation', scope: 'subject', subject: { type: 'user', id: subjects[1] } },
    });
    expect(hold.status).toBe(201);
    heldId = await erase(subjects[1]!);
    expect((await platform.waitForRequest(heldId)).status).toBe('held');
    const sweep = await platform.api('POST', '/v1/sweeps', { body: { service: 'sessions', dryRun: true } });
    expect((await platform.waitForRequest(sweep.body.id)).status).toBe('completed');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('is served with a strict content security policy and without a token', async () => {
    const response = await fetch(`${platform.coordinator.url}/audit`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('shows the verification, the matrix with the held request highlighted, the policies, and downloads the CSV', async () => {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const requests: Request[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r));
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    try {
      await page.goto(`${platform.coordinator.url}/audit`);
      await page.fill('#token', TOKENS.auditor);
      await page.click('#load');
      await page.waitForSelector('body[data-loaded]');

      expect(await page.textContent('#verify')).toContain('verified');
      expect(await page.getAttribute('#verify span', 'class')).toBe('ok');
      const summary = await platform.api('GET', '/v1/ledger/report?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z', { token: TOKENS.auditor });
      expect(await page.textContent('#summary [data-key="total"] dd')).toBe(String(summary.body.summary.total));
      expect(await page.textContent('#summary [data-key="held"] dd')).toBe('1');

      const heldRow = page.locator(`#matrix tr[data-request-id="${heldId}"]`);
      expect(await heldRow.getAttribute('class')).toBe('held');
      expect(await heldRow.locator('td[data-service="sessions"]').getAttribute('class')).toBe('held');
      expect(await heldRow.locator('td[data-service="sessions"]').textContent()).toContain('held');
      const doneCell = page.locator(`#matrix tr[data-request-id="${completedId}"] td[data-service="sessions"]`);
      expect(await doneCell.getAttribute('class')).toBe('completed');
      expect(await doneCell.textContent()).toContain('sessions: 1 deleted');
      expect(await page.locator('#timeline tr').count()).toBeGreaterThan(1);
      expect(await page.textContent('#policies')).toContain('Legitimate interest');
      expect(await page.textContent('#probes')).toContain(completedId.slice(0, 8));
      expect(await page.textContent('#probes')).toContain('clean');

      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
      const csv = await readFile((await download.path())!, 'utf8');
      expect(csv.split('\n')[0]).toMatch(/^request_id,kind,status/);
      expect(csv).toContain(heldId);

      await mkdir(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect((await stat(SCREENSHOT)).size).toBeGreaterThan(10_000);

      // Only this server, and no subject id in any URL or header the page sent.
      for (const r of requests) {
        expect(new URL(r.url()).origin === new URL(platform.coordinator.url).origin || r.url().startsWith('blob:')).toBe(true);
        for (const s of subjects) expect(`${r.url()} ${JSON.stringify(await r.allHeaders())}`).not.toContain(s);
      }
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('lists an open manual task; the auditor may not confirm it, an admin confirms it with a note and the erasure completes', async () => {
    expect(
      (
        await platform.api('POST', '/v1/targets', {
          body: { name: 'page-archive', kind: 'manual', instructions: 'Shred the paper file in cabinet 4', subjectTypes: ['user'] },
        })
      ).status,
    ).toBe(201);
    const id = (await platform.api('POST', '/v1/erasure-requests', { token: TOKENS.requester, body: { subject: { type: 'user', id: 'page-carol' } } })).body
      .id as string;
    await waitFor('the task to open', async () =>
      (await platform.api('GET', '/v1/tasks?status=open')).body.items.some((t: { requestId: string }) => t.requestId === id) ? true : undefined,
    );
    const row = `#tasks tr[data-request-id="${id}"]`;
    const confirmOn = async (token: string) => {
      const page = await browser.newPage();
      const urls: string[] = [];
      page.on('request', (r: Request) => void urls.push(r.url()));
      await page.goto(`${platform.coordinator.url}/audit`);
      await page.fill('#token', token);
      await page.click('#load');
      await page.waitForSelector(row);
      expect(await page.textContent(row)).toContain('Shred the paper file in cabinet 4');
      await page.click(`${row} button`);
      await page.fill('tr.confirm-form textarea', 'Shredded, witnessed by the archive clerk');
      await page.fill('tr.confirm-form input[name="count"]', '1');
      await page.click('tr.confirm-form button[type="submit"]');
      for (const u of urls) expect(u).not.toContain('page-carol');
      return page;
    };
    const auditor = await confirmOn(TOKENS.auditor);
    try {
      await auditor.waitForSelector('tr.confirm-form p.bad:not([hidden])');
      expect(await auditor.textContent('tr.confirm-form p.bad')).toMatch(/^403: /);
    } finally {
      await auditor.close();
    }
    const admin = await confirmOn(TOKENS.admin);
    try {
      await admin.waitForSelector('#tasks-status:not([hidden])');
      expect(await admin.textContent('#tasks-status')).toContain(`Confirmed page-archive for request ${id}`);
    } finally {
      await admin.close();
    }
    const done = await platform.waitForRequest(id);
    expect(done.status).toBe('completed');
    expect(done.targets.find((t: { service: string }) => t.service === 'page-archive')).toMatchObject({ kind: 'manual', status: 'completed' });
  });

  it('shows the API error for a token that is not an auditor', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${platform.coordinator.url}/audit`);
      await page.fill('#token', TOKENS.requester);
      await page.click('#load');
      await page.waitForSelector('#error:not([hidden])');
      expect(await page.textContent('#error')).toMatch(/^403: /);
      expect(await page.isHidden('main')).toBe(true);
    } finally {
      await page.close();
    }
  });
});
