/** A failed API call: the HTTP status and the API's `{ error: { code, message, issues } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const error = (body as { error?: { code?: string; message?: string; issues?: Array<{ path: string; message: string }> } })?.error;
    const issues = error?.issues?.map((i) => `\n  - ${i.path || '(body)'}: ${i.message}`).join('') ?? '';
    super(`${status} ${error?.code ?? 'error'}: ${error?.message ?? String(body)}${issues}`);
  }
}

export interface ApiClient {
  call(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string> }): Promise<unknown>;
}

export function createApiClient(baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): ApiClient {
  return {
    async call(method, path, options = {}) {
      const response = await fetchImpl(`${baseUrl.replace(/\/$/, '')}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
        body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      });
      const text = await response.text();
      const body: unknown = (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
      if (!response.ok) throw new ApiError(response.status, body);
      return body;
    },
  };
}
