/**
 * A real headless browser for console tests: Debian's Chromium
 * (/usr/bin/chromium, or $CORRAL_CHROMIUM) driven by playwright-core, with a
 * fresh profile directory per launch. Page errors and console errors are
 * collected so a test can assert none happened.
 *
 *   const browser = await Browser.launch();
 *   const page = await browser.page({ colorScheme: 'dark' });
 *   ...
 *   await browser.close();
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CORRAL_CHROMIUM ?? '/usr/bin/chromium';

/** Null when Chromium is installed; else why the browser tests cannot run. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CORRAL_CHROMIUM)`;
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

export class Browser {
  /** Uncaught page errors and console.error messages, across pages. */
  readonly errors: string[] = [];
  private constructor(
    private readonly context: BrowserContext,
    private readonly profile: string,
  ) {}

  /** `bypassCSP` (default true) lets tests inject axe-core; pass false to run the console under its real Content-Security-Policy. */
  static async launch(opts: { colorScheme?: 'light' | 'dark'; bypassCSP?: boolean } = {}): Promise<Browser> {
    const profile = await mkdtemp(join(tmpdir(), 'corral-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 900 },
      colorScheme: opts.colorScheme ?? 'light',
      // Tests inject axe-core as a script tag; what the console renders is checked without the CSP's help.
      bypassCSP: opts.bypassCSP ?? true,
    });
    return new Browser(context, profile);
  }

  async page(): Promise<Page> {
    const page = await this.context.newPage();
    page.on('pageerror', (err) => this.errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.errors.push(`console: ${msg.text()}`);
    });
    return page;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await rm(this.profile, { recursive: true, force: true });
  }
}
