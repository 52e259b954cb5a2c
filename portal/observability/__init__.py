"""Operations support: structured logs without patron personal data."""
