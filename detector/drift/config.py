"""The data checks' settings (DETECTOR_<NAME>), apart from the checks: the Faust process reads
them without importing scipy, pandas and scikit-learn (seconds at every start)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.features import CATEGORICAL, NUMERIC

JOINT_TESTS = 3  # two-way histograms: country × price, country × quantity, quantity × price


class MonitorConfig(BaseModel):
    """Window sizes, the false-alarm budget and minimum effects (env DETECTOR_<NAME>);
    see the README for the maths."""

    model_config = ConfigDict(frozen=True)

    reference_size: int = Field(20_000, ge=100, description="warm-up events forming the reference "
                                "(N), per partition")
    window_size: int = Field(200, ge=20, description="current window in events (W), per partition")
    panes: int = Field(4, ge=1, description="panes per window (P); evaluated as each completes")
    false_alarms_per_million: float = Field(0.1, gt=0, lt=1e6, description="false-alarm budget, all "
                                            "features and tests together, per 1M events")
    ks_min_effect: float = Field(0.05, ge=0, lt=1, description="minimum KS D to alarm")
    categorical_min_effect: float = Field(0.10, ge=0, lt=1, description="minimum total variation "
                                          "distance for a categorical or value-mix alarm")
    out_of_range_min_share: float = Field(0.01, gt=0, le=1, description="minimum share outside the "
                                          "reference range to alarm")
    long_window: int = Field(2000, ge=0, description="long window in events for the categorical "
                             "tests, evaluated every W events, no minimum effect (0: off)")
    adwin_delta: float = Field(1e-5, gt=0, lt=1, description="ADWIN confidence delta")
    adwin_clock: int = Field(8, ge=1, description="ADWIN checks for a change every this many updates")
    adwin_group: int = Field(1, ge=1, description="events averaged per ADWIN update (CPU vs delay)")
    segment_count: int = Field(3, ge=0, description="countries tested on their own (segment-conditional "
                               "tests): the largest by reference share below one half (0: off)")
    segment_window: int = Field(20, ge=10, description="a country's window in its own rows for the "
                                "segment-conditional tests")
    segment_step: int = Field(5, ge=1, description="a country's rows between two evaluations of its "
                              "segment-conditional tests")
    segment_budget_share: float = Field(0.1, gt=0, lt=1, description="share of the false-alarm budget "
                                        "given to the segment-conditional tests")
    customer_window: int = Field(1000, ge=0, description="rows with a customer in the customer-country "
                                 "test's window: the share whose customer was first seen in another "
                                 "country, against the partition's own first N events (0: off)")
    customer_step: int = Field(100, ge=1, description="rows with a customer between two evaluations of "
                               "the customer-country test")
    joint_window: int = Field(10_000, ge=0, description="events in the window of the joint tests (the "
                              "two-way histograms of country, quantity and unit price), against the "
                              "partition's own first N events (0: off)")
    joint_step: int = Field(1_000, ge=1, description="events between two evaluations of the joint tests")
    episode_quiet: int = Field(2000, ge=1, description="events of a partition without an alarm or a "
                               "drifted evaluation of a feature that close its drift episode")

    @model_validator(mode="after")
    def _panes_divide_the_window(self) -> MonitorConfig:
        if self.window_size % self.panes:
            raise ValueError(f"window_size ({self.window_size}) must be a multiple of panes ({self.panes})")
        if self.segment_step > self.segment_window:
            raise ValueError(f"segment_step ({self.segment_step}) must be at most segment_window "
                             f"({self.segment_window})")
        if self.customer_window and self.customer_step > self.customer_window:
            raise ValueError(f"customer_step ({self.customer_step}) must be at most customer_window "
                             f"({self.customer_window})")
        if self.joint_window and self.joint_step > self.joint_window:
            raise ValueError(f"joint_step ({self.joint_step}) must be at most joint_window "
                             f"({self.joint_window})")
        if self.long_window and (self.long_window <= self.window_size or self.long_window % self.window_size):
            raise ValueError(f"long_window ({self.long_window}) must be 0 or a multiple of window_size "
                             f"({self.window_size}) larger than it")
        return self

    @property
    def pane_size(self) -> int:
        return self.window_size // self.panes

    @property
    def window_tests(self) -> int:
        # KS, out-of-range, value mix and tail (a pane's most extreme value); one per categorical
        return 4 * len(NUMERIC) + len(CATEGORICAL)

    @property
    def tests_per_million(self) -> float:
        """Window tests run per 1M events: each at every pane, each long one every W events, the
        customer-country test at most every ``customer_step`` events, the joint tests every
        ``joint_step`` events."""
        long = len(CATEGORICAL) * 1e6 / self.window_size if self.long_window else 0.0
        customers = 1e6 / self.customer_step if self.customer_window else 0.0
        joint = JOINT_TESTS * 1e6 / self.joint_step if self.joint_window else 0.0
        return self.window_tests * 1e6 / self.pane_size + long + customers + joint

    @property
    def alpha(self) -> float:
        """Per-test level: the budget (less the segment tests' share) split (Bonferroni) over
        every test run."""
        segments = self.segment_budget_share if self.segment_count else 0.0
        return (1 - segments) * self.false_alarms_per_million / self.tests_per_million

    def segment_alpha(self, shares: list[float]) -> float:
        """Per-test level of the segment-conditional tests, for countries of these reference
        shares: their share of the budget over their evaluations per 1M events (each country
        evaluated every ``segment_step`` of its rows; one KS per numeric feature, one product price)."""
        evaluations = sum(shares) * 1e6 / self.segment_step * (len(NUMERIC) + 1)
        return self.segment_budget_share * self.false_alarms_per_million / max(evaluations, 1e-12)
