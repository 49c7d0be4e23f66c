// Talks to the rt_notebook server extension: base URL and XSRF from the page, errors as returned.

export interface ApiError {
  status: number;
  code: string;
  message: string;
  param?: string;
}

export class SignalingError extends Error {
  readonly status: number;
  readonly code: string;
  readonly param: string | undefined;

  constructor(error: ApiError) {
    super(error.message);
    this.name = "SignalingError";
    this.status = error.status;
    this.code = error.code;
    this.param = error.param;
  }
}

export interface CallAnswer {
  sdp: string;
  call_id: string | null;
  session: Record<string, unknown>;
}

export interface ServerStatus {
  backend: "openai" | "local";
  backend_setting: "auto" | "openai" | "local";
  key_configured: boolean;
  allowed_models: string[];
  session_defaults: Record<string, unknown>;
  overridden_fields: string[];
  version: string;
}

/** The Jupyter base URL from the page config that JupyterLab and Notebook 7 embed. */
export function pageBaseUrl(doc: Document = document): string {
  const el = doc.getElementById("jupyter-config-data");
  if (el?.textContent) {
    try {
      const config = JSON.parse(el.textContent) as { baseUrl?: unknown };
      if (typeof config.baseUrl === "string") {
        return config.baseUrl.endsWith("/") ? config.baseUrl : `${config.baseUrl}/`;
      }
    } catch {
      // fall through to the default
    }
  }
  return "/";
}

/** The `_xsrf` cookie, which Jupyter checks on cookie-authenticated POSTs. */
export function xsrfToken(cookie: string = globalThis.document?.cookie ?? ""): string | undefined {
  for (const part of cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "_xsrf") return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

async function readError(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: Partial<ApiError>; message?: string };
    if (body.error?.message) {
      return {
        status: response.status,
        code: body.error.code ?? "error",
        message: body.error.message,
        ...(body.error.param ? { param: body.error.param } : {}),
      };
    }
    if (body.message) return { status: response.status, code: "error", message: body.message };
  } catch {
    // not JSON
  }
  return {
    status: response.status,
    code: response.status === 404 ? "extension_missing" : "error",
    message:
      response.status === 404
        ? "The rt_notebook server extension is not enabled on this Jupyter server"
        : `${response.status} ${response.statusText}: ${text.slice(0, 200)}`,
  };
}

export class ExtensionClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(baseUrl: string = pageBaseUrl(), fetchImpl: typeof fetch = fetch.bind(globalThis)) {
    this.baseUrl = baseUrl;
    this.fetchImpl = fetchImpl;
  }

  private async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    const token = xsrfToken();
    if (token) headers.set("X-XSRFToken", token);
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}api/rt-notebook/${path}`, {
        ...init,
        headers,
        credentials: "same-origin",
      });
    } catch (err) {
      throw new SignalingError({
        status: 0,
        code: "unreachable",
        message: `The Jupyter server could not be reached: ${String(err)}`,
      });
    }
    if (!response.ok) throw new SignalingError(await readError(response));
    return (await response.json()) as T;
  }

  status(): Promise<ServerStatus> {
    return this.request<ServerStatus>("status");
  }

  /** Exchange an SDP offer for an answer; errors are thrown, never handed to WebRTC. */
  async createCall(sdp: string, session: Record<string, unknown>): Promise<CallAnswer> {
    const answer = await this.request<CallAnswer>("calls", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp, session }),
    });
    if (typeof answer.sdp !== "string" || !answer.sdp.startsWith("v=0")) {
      throw new SignalingError({
        status: 502,
        code: "bad_answer",
        message: "The server's answer is not an SDP answer",
      });
    }
    return answer;
  }
}
