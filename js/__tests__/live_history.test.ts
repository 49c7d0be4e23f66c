import { describe, expect, it } from "vitest";
import { LIVE_INPUT_ITEMS, LIVE_INPUT_TOKENS, withLiveHistory } from "../live_history";
import type { Transcript, Turn } from "../transcript";

function turns(...said: [Turn["role"], string][]): Transcript {
  return {
    turns: said.map(([role, text], i) => ({ id: `t${i}`, role, text, final: true, t: i })),
  };
}

describe("withLiveHistory", () => {
  it("starts a new Live session with the conversation so far, after its own input", () => {
    const session = {
      model: "gpt-live-1",
      input: [{ role: "developer", content: [{ type: "input_text", text: "Be brief." }] }],
    };
    const history = turns(
      ["user", "Remember the number 42."],
      ["tool", "add(2, 40) → 42"],
      ["assistant", "Noted."],
      ["user", "  "],
    );
    expect(withLiveHistory(session, history)).toEqual({
      model: "gpt-live-1",
      input: [
        { role: "developer", content: [{ type: "input_text", text: "Be brief." }] },
        {
          type: "message",
          role: "user",
          content: [{ type: "input_text", text: "Remember the number 42." }],
        },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Noted." }] },
      ],
    });
    expect(session.input).toHaveLength(1); // the widget's config is not changed
  });

  it("keeps the newest turns within Live's limits of 128 items and 8,192 tokens", () => {
    const many = turns(
      ...Array.from({ length: 300 }, (_, i): [Turn["role"], string] => [
        i % 2 ? "assistant" : "user",
        `turn ${i}`,
      ]),
    );
    const input = withLiveHistory({}, many).input as { content: { text: string }[] }[];
    expect(input).toHaveLength(LIVE_INPUT_ITEMS);
    expect(input.at(-1)?.content[0]?.text).toBe("turn 299");
    const long = turns(
      ["user", "x".repeat(4 * LIVE_INPUT_TOKENS - 40)],
      ["assistant", "y".repeat(400)],
    );
    const kept = withLiveHistory({}, long).input as unknown[];
    expect(kept).toHaveLength(1); // the older, longer turn no longer fits beside the newer
  });

  it("leaves a session without history as it is", () => {
    const session = { model: "gpt-live-1" };
    expect(withLiveHistory(session, turns())).toBe(session);
  });
});
