-- Finding an account's messages when the account is deleted.
CREATE INDEX messages_by_user ON messages(user_id) WHERE user_id IS NOT NULL;
