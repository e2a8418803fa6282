// A scripted browser for the console tests: fetch with a cookie jar (per host, path-matched, as
// browsers scope cookies), manual redirects, and the staff IdP's login form.
import { staffPassword } from './staff-idp.js';

export interface Page {
  status: number;
  url: string;
  headers: Headers;
  text: string;
}

interface StoredCookie {
  host: string;
  name: string;
  value: string;
  path: string;
}

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();
  /** Every Set-Cookie line received, for assertions on attributes. */
  readonly setCookieLines: string[] = [];

  store(url: URL, response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      this.setCookieLines.push(line);
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (key: string) =>
        attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const path = attr('path') ?? '/';
      const key = `${url.hostname}|${path}|${name}`;
      const maxAge = attr('max-age');
      const expires = attr('expires');
      const expired =
        (maxAge !== undefined && Number(maxAge) <= 0) ||
        (expires !== undefined && Date.parse(expires) < Date.now());
      if (expired || value === '') this.#cookies.delete(key);
      else this.#cookies.set(key, { host: url.hostname, name, value, path });
    }
  }

  header(url: URL): string {
    return [...this.#cookies.values()]
      .filter(
        (c) =>
          c.host === url.hostname &&
          (url.pathname === c.path || url.pathname.startsWith(`${c.path.replace(/\/$/, '')}/`)),
      )
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  get(name: string): string | undefined {
    return [...this.#cookies.values()].find((c) => c.name === name)?.value;
  }

  set(host: string, name: string, value: string, path: string): void {
    this.#cookies.set(`${host}|${path}|${name}`, { host, name, value, path });
  }
}

export interface PostOptions {
  /** The Origin header to send; null sends none. Default: the console's own origin. */
  origin?: string | null;
  follow?: boolean;
}

export class ConsoleClient {
  readonly jar = new CookieJar();
  /** Every HTML/JSON body the broker served this client, to prove no secret ever appears. */
  readonly brokerPages: string[] = [];
  /** Every URL this client was redirected to (the authorization code passes through here). */
  readonly redirects: string[] = [];

  constructor(readonly brokerUrl: string) {}

  async request(url: string, init: RequestInit = {}): Promise<Page> {
    const target = new URL(url, this.brokerUrl);
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(target);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    this.jar.store(target, response);
    const text = await response.text();
    if (target.origin === new URL(this.brokerUrl).origin) this.brokerPages.push(text);
    return { status: response.status, url: target.toString(), headers: response.headers, text };
  }

  /** Follows redirects as a browser does (303/302 → GET). */
  async follow(first: Page): Promise<Page> {
    let page = first;
    for (let hops = 0; page.status >= 300 && page.status < 400; hops++) {
      if (hops > 20) throw new Error('too many redirects');
      const location = new URL(page.headers.get('location')!, page.url).toString();
      this.redirects.push(location);
      page = await this.request(location);
    }
    return page;
  }

  get(path: string): Promise<Page> {
    return this.request(path).then((page) => this.follow(page));
  }

  async post(path: string, form: Record<string, string>, opts: PostOptions = {}): Promise<Page> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const origin = opts.origin === undefined ? new URL(this.brokerUrl).origin : opts.origin;
    if (origin !== null) headers.origin = origin;
    const page = await this.request(path, {
      method: 'POST',
      headers,
      body: new URLSearchParams(form).toString(),
    });
    return opts.follow === false ? page : this.follow(page);
  }

  /**
   * Signs in through the IdP: opens `path`, is sent to the IdP, fills in its login form as
   * `login`, and comes back through the callback. Returns the console page landed on.
   */
  async signIn(login: string, path = '/console'): Promise<Page> {
    let page = await this.get(path);
    for (let step = 0; step < 5 && new URL(page.url).origin !== new URL(this.brokerUrl).origin; step++) {
      const action = /<form[^>]*action="([^"]+)"/.exec(page.text)?.[1];
      if (action === undefined || !/name="login"/.test(page.text))
        throw new Error(`unexpected IdP page:\n${page.text.slice(0, 500)}`);
      const submit = await this.request(new URL(action.replace(/&amp;/g, '&'), page.url).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login, password: staffPassword(login) }).toString(),
      });
      page = await this.follow(submit);
    }
    return page;
  }
}

/** The CSRF token of the first form on a console page. */
export function csrfOf(page: Page): string {
  const token = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
  if (token === undefined) throw new Error('no CSRF token on the page');
  return token;
}
