"""The ``sources:`` block of kpi.yaml: one model per platform, and which fields are credentials."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Strict(BaseModel):
    # .nan and .inf are YAML floats; no setting means either
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SourceBase(Strict):
    """Settings every source takes."""

    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    lookback_days: int | None = Field(default=None, ge=1, le=400)
    timeout: float = Field(default=30.0, gt=0, le=600)


class MailchimpSource(SourceBase):
    api_key: SecretStr | None = None


class Ga4Source(SourceBase):
    property_id: str = Field(pattern=r"^\d{4,20}$")
    credentials_file: str | None = None


class MetaAdsSource(SourceBase):
    ad_account_id: str = Field(pattern=r"^(act_)?\d{3,25}$")
    access_token: SecretStr | None = None
    api_version: str = Field(default="v23.0", pattern=r"^v\d{2}\.0$")


class GoogleAdsSource(SourceBase):
    customer_id: str = Field(pattern=r"^\d{3}-?\d{3}-?\d{4}$")
    developer_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    login_customer_id: str | None = Field(default=None, pattern=r"^\d{3}-?\d{3}-?\d{4}$")
    token_uri: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # unset: the connector's default, which follows Google's supported versions
    api_version: str | None = Field(default=None, pattern=r"^v\d{2}$")


class InstagramSource(SourceBase):
    user_id: str = Field(pattern=r"^\d{5,25}$")
    access_token: SecretStr | None = None
    api_version: str = Field(default="v23.0", pattern=r"^v\d{2}\.0$")


class StripeSource(SourceBase):
    api_key: SecretStr | None = None


class CalendlySource(SourceBase):
    token: SecretStr | None = None
    user: str | None = None
    organization: str | None = None
    intro_call_event_types: list[str] = Field(default=["Intro call"], min_length=1)


class HubSpotSource(SourceBase):
    token: SecretStr | None = None
    lead_stages: list[str] = Field(default=["lead", "marketingqualifiedlead", "salesqualifiedlead"], min_length=1)


class ManualSource(SourceBase):
    path: str = "data/manual_metrics.csv"


SOURCE_MODELS: dict[str, type[SourceBase]] = {
    "mailchimp": MailchimpSource, "ga4": Ga4Source, "meta_ads": MetaAdsSource, "google_ads": GoogleAdsSource,
    "instagram": InstagramSource, "stripe": StripeSource, "calendly": CalendlySource, "hubspot": HubSpotSource,
    "manual": ManualSource}
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "mailchimp": ("api_key",), "ga4": ("credentials_file",), "meta_ads": ("access_token",),
    "google_ads": ("developer_token", "client_id", "client_secret", "refresh_token"),
    "instagram": ("access_token",), "stripe": ("api_key",), "calendly": ("token",), "hubspot": ("token",)}


class Sources(Strict):
    mailchimp: MailchimpSource | None = None
    ga4: Ga4Source | None = None
    meta_ads: MetaAdsSource | None = None
    google_ads: GoogleAdsSource | None = None
    instagram: InstagramSource | None = None
    stripe: StripeSource | None = None
    calendly: CalendlySource | None = None
    hubspot: HubSpotSource | None = None
    manual: ManualSource | None = None
