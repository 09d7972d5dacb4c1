// The bearer token lives in sessionStorage: it goes away with the tab and is never sent anywhere but the API.
const KEY = 'approvals.dashboard.token';

export function getToken() {
  return sessionStorage.getItem(KEY);
}

export function setToken(token) {
  sessionStorage.setItem(KEY, token.trim());
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/** The JWT payload, decoded only to show who is signed in; the API verifies the signature. */
export function decodeJwt(token) {
  const parts = (token || '').trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === 'object' ? payload : null;
  } catch {
    return null;
  }
}

/** The signed-in user from a token, or null when there is none, it is unreadable or it has expired. */
export function userFromToken(token) {
  const claims = decodeJwt(token);
  if (!claims || !claims.sub) return null;
  const expiresAt = typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null;
  if (expiresAt && expiresAt <= new Date()) return null;
  const raw = claims.roles ?? claims.role ?? [];
  const roles = Array.isArray(raw) ? raw : String(raw).split(/[\s,]+/).filter(Boolean);
  return {
    id: claims.sub,
    tenantId: claims.tid ?? null,
    name: claims.name ?? claims.preferred_username ?? claims.sub,
    roles,
    isAdmin: roles.includes('admin'),
    expiresAt,
  };
}

export function currentUser() {
  const token = getToken();
  return token ? userFromToken(token) : null;
}
