DROP INDEX idx_token_nhs_number;
