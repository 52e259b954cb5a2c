from allauth.account.adapter import DefaultAccountAdapter


class InvitationOnlyAdapter(DefaultAccountAdapter):
    """People join by invitation from the office or their director, never by signing up."""

    def is_open_for_signup(self, request):
        return False
