DROP TABLE idx_string, idx_token, idx_date, idx_number, idx_quantity, idx_reference, idx_uri;
