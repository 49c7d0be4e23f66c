import { describe, expect, it } from "vitest";
import { budgetText } from "../view/toolbar";

describe("budgetText", () => {
  it("shows what is left today and this term", () => {
    const remaining = { usd_today: 0.4213, usd_term: 3.5, minutes_today: 12.25 };
    expect(budgetText({ remaining })).toBe("Left today: $0.42 · 12.3 min; this term: $3.50");
  });

  it("leaves out unlimited budgets, and shows nothing without a class service", () => {
    const remaining = { usd_today: null, usd_term: null, minutes_today: 5 };
    expect(budgetText({ remaining })).toBe("Left today: 5.0 min");
    expect(
      budgetText({ remaining: { usd_today: null, usd_term: null, minutes_today: null } }),
    ).toBe("");
    expect(budgetText(null)).toBe("");
    expect(budgetText({ error: { code: "x", message: "y" } })).toBe("");
  });
});
