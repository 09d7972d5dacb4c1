// The only module that talks to the API: adds the bearer token, parses problem+json into ApiError.
import { getToken } from './auth.js';

const BASE = '/api/v1';

/** A refused or failed call; `problem` is the RFC 9457 body (or one made up for network failures). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

/** A fresh Idempotency-Key; randomUUID needs a secure context, so fall back to getRandomValues. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Calls `BASE + path`. Options: method, body (sent as JSON), idempotencyKey, anonymous (no token).
 * Resolves with the parsed JSON (null for an empty body); rejects with ApiError.
 */
export async function api(path, { method = 'GET', body, idempotencyKey, anonymous = false } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  const token = anonymous ? null : getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;

  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, { title: 'The API could not be reached', detail: String(e.message || e) });
  }

  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.ok) return data;

  const problem = data && typeof data === 'object'
    ? { status: response.status, ...data }
    : { status: response.status, title: response.statusText || `HTTP ${response.status}`, detail: typeof data === 'string' ? data.slice(0, 500) : undefined };
  if (response.status === 401 && !anonymous) {
    window.dispatchEvent(new CustomEvent('approvals:unauthorized', { detail: problem }));
  }
  throw new ApiError(response.status, problem);
}

/** One page of a list: `{items, continuationToken}` (a bare array is accepted too). */
export async function apiPage(path, continuationToken) {
  const sep = path.includes('?') ? '&' : '?';
  const url = continuationToken ? `${path}${sep}continuationToken=${encodeURIComponent(continuationToken)}` : path;
  const data = await api(url);
  if (Array.isArray(data)) return { items: data, continuationToken: null };
  return { items: data?.items ?? [], continuationToken: data?.continuationToken ?? null };
}

export const enc = encodeURIComponent;
